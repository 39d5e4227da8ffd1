"""Accepting messages: a batch of new messages stored in one transaction, each answered.

The accept path's half of the store: idempotency keys, devices removed while
their lookups were cached, and the SQLite fast path of one multi-row INSERT.
"""

import functools
import itertools
import operator
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite

from kurir.domain.ids import new_message_id
from kurir.store.postgres import hold_off_removal, notify_new_messages
from kurir.store.queries import dialect_insert
from kurir.store.records import (
    Accepted,
    DeviceRemoved,
    IdempotencyMismatch,
    NewMessage,
)
from kurir.store.tables import devices, messages

# SQLite before 3.32 allowed 999 parameters in a statement; later ones 32,766.
_SQLITE_MAX_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_messages(
    connection: Connection, batch: Sequence[NewMessage]
) -> list[Accepted | IdempotencyMismatch | DeviceRemoved]:
    """Store a batch of new messages in one statement; answer each in order.

    A message whose device was removed is refused and stores nothing. The
    API's device lookups are cached and may predate the removal, so the
    check is made here, in the transaction that stores the batch (one query
    a batch); no message is accepted for a device once its removal commits.

    A request whose Idempotency-Key was seen before (in an earlier batch, in
    this one, or by another API process at the same moment) is not stored
    again: it is answered with the message the key first created, or refused
    when its body differs from the first one. A retry for a removed device
    gets that first answer too.
    """
    device_ids = {item.device_id for item in batch}
    if connection.dialect.name == "postgresql":
        hold_off_removal(connection, device_ids)
    removed = removed_devices(connection, device_ids)

    first_of_key: dict[tuple[int, str], NewMessage] = {}
    rows: list[NewMessage] = []
    refused_keys: list[tuple[int, str]] = []
    for item in batch:
        key = None if item.idempotency_key is None else (item.account_id, item.idempotency_key)
        if item.device_id in removed:
            if key is not None:
                refused_keys.append(key)
            continue
        if key is not None:
            if key in first_of_key:
                continue
            first_of_key[key] = item
        rows.append(item)

    if connection.dialect.name == "sqlite" and _insert_unopposed(connection, rows):
        stored: dict[int, NewMessage] = {id(row): row for row in rows}
        earlier: dict[tuple[int, str], tuple[str, str, str | None]] = {}
    else:
        stored, earlier = _insert_new(connection, rows)
    if stored and connection.dialect.name == "postgresql":
        notify_new_messages(connection, {m.device_id for m in stored.values()})
    earlier.update(
        _messages_by_key(
            connection,
            [key for key in refused_keys if key not in first_of_key and key not in earlier],
        )
    )

    answers: list[Accepted | IdempotencyMismatch | DeviceRemoved] = []
    for item in batch:
        if item.idempotency_key is None:
            row = stored.get(id(item))
            answers.append(
                Accepted(row.message_id, item.recipient) if row is not None else DeviceRemoved()
            )
            continue
        key = (item.account_id, item.idempotency_key)
        first = first_of_key.get(key)
        if first is not None and id(first) in stored:
            row = stored[id(first)]  # its message id may have been renewed
            message_id, recipient, fingerprint = (
                row.message_id,
                row.recipient,
                row.request_fingerprint,
            )
            replayed = item is not first
        elif key in earlier:
            message_id, recipient, fingerprint = earlier[key]
            replayed = True
        else:
            answers.append(DeviceRemoved())
            continue
        if fingerprint != item.request_fingerprint:
            answers.append(IdempotencyMismatch(message_id))
        else:
            answers.append(Accepted(message_id, recipient, replayed=replayed))
    return answers


def removed_devices(connection: Connection, device_ids: Collection[int]) -> set[int]:
    """Those of ``device_ids`` that have been removed: usually none, no row to read."""
    ids = list(device_ids)
    if connection.dialect.name != "sqlite":
        query = sa.select(devices.c.id).where(
            devices.c.id.in_(ids), devices.c.removed_at.is_not(None)
        )
        return set(connection.execute(query).scalars())
    # Straight to the driver, like the accept path's INSERT.
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection inside a transaction has its driver's
    found: set[int] = set()
    for start in range(0, len(ids), _SQLITE_MAX_PARAMETERS):
        chunk = ids[start : start + _SQLITE_MAX_PARAMETERS]
        found.update(row[0] for row in driver.execute(_sqlite_removed(len(chunk)), chunk))
    return found


# removed_devices' query on SQLite, but for a "?" per device and ")".
_SQLITE_REMOVED = (
    str(sa.select(devices.c.id).where(devices.c.removed_at.is_not(None)).compile())
    + " AND devices.id IN ("
)


@functools.lru_cache(maxsize=64)
def _sqlite_removed(count: int) -> str:
    return _SQLITE_REMOVED + ", ".join("?" * count) + ")"


# The accept path's statement on SQLite, rows as positional parameters.
# NewMessage's fields are named after the columns they fill.
_SQLITE_INSERT_ONE = (
    sqlite.insert(messages)
    .values({name: sa.bindparam(name) for name in NewMessage.__struct_fields__})
    .compile(dialect=sqlite.dialect())
)
_sqlite_row_values = operator.attrgetter(*_SQLITE_INSERT_ONE.positiontup or ())
_SQLITE_ROW_PLACEHOLDERS = ", (" + ", ".join("?" * len(NewMessage.__struct_fields__)) + ")"
_SQLITE_MAX_ROWS = _SQLITE_MAX_PARAMETERS // len(NewMessage.__struct_fields__)


@functools.lru_cache(maxsize=64)
def _sqlite_insert_rows(count: int) -> str:
    return str(_SQLITE_INSERT_ONE) + _SQLITE_ROW_PLACEHOLDERS * (count - 1)


def _insert_unopposed(connection: Connection, rows: Sequence[NewMessage]) -> bool:
    """SQLite's common case: no row meets a conflict. True if so, and they are stored.

    The rows go in as one multi-row INSERT whose parameters the driver binds
    in C. Through SQLAlchemy, the per-row parameter handling and the RETURNING
    result cost the writer thread about 30 us a message, all of it holding
    the GIL that the request handlers need. A conflict anywhere (a replayed
    Idempotency-Key, a colliding message id) aborts the statement, which then
    stores nothing, and `_insert_new` sorts the batch out.
    """
    if not rows or len(rows) > _SQLITE_MAX_ROWS:
        return False
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection inside a transaction has its driver's
    try:
        driver.execute(
            _sqlite_insert_rows(len(rows)),
            list(itertools.chain.from_iterable(map(_sqlite_row_values, rows))),
        )
    except sqlite3.IntegrityError:
        return False
    return True


def _insert_new(
    connection: Connection, rows: Sequence[NewMessage]
) -> tuple[dict[int, NewMessage], dict[tuple[int, str], tuple[str, str, str | None]]]:
    """Insert what no conflict stops.

    Returns the rows as stored, by ``id(row)``, and for each Idempotency-Key
    that an earlier request owns, that request's message. A row whose random
    message id collided (2^-64 per pair) is inserted again under a new id;
    a keyed row is taken for a key conflict only once its key is found.
    """
    statement = (
        dialect_insert(connection, messages)
        .on_conflict_do_nothing()
        .returning(messages.c.message_id)
    )
    stored: dict[int, NewMessage] = {}
    earlier: dict[tuple[int, str], tuple[str, str, str | None]] = {}
    pending = [(id(row), row) for row in rows]
    while pending:
        # Two rows of one round with the same id: the second would be dropped by
        # the conflict yet look inserted (its id is in RETURNING). Renew it first.
        ids: set[str] = set()
        for index, (origin, row) in enumerate(pending):
            if row.message_id in ids:
                pending[index] = (origin, _with_new_id(row))
            ids.add(pending[index][1].message_id)
        result = connection.execute(statement, [_message_values(m) for _, m in pending])
        inserted = set(result.scalars())
        refused = [(origin, row) for origin, row in pending if row.message_id not in inserted]
        stored.update((origin, row) for origin, row in pending if row.message_id in inserted)
        earlier.update(
            _messages_by_key(
                connection,
                [
                    (row.account_id, row.idempotency_key)
                    for _, row in refused
                    if row.idempotency_key
                ],
            )
        )
        pending = [
            (origin, _with_new_id(row))
            for origin, row in refused
            if row.idempotency_key is None or (row.account_id, row.idempotency_key) not in earlier
        ]
    return stored, earlier


def _message_values(message: NewMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "account_id": message.account_id,
        "device_id": message.device_id,
        "recipient": message.recipient,
        "content": message.content,
        "status": message.status,
        "due_at": message.due_at,
        "created_at": message.created_at,
        "idempotency_key": message.idempotency_key,
        "request_fingerprint": message.request_fingerprint,
    }


def _with_new_id(message: NewMessage) -> NewMessage:
    values = _message_values(message)
    values["message_id"] = new_message_id()
    return NewMessage(**values)


def _messages_by_key(
    connection: Connection, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], tuple[str, str, str | None]]:
    if not keys:
        return {}
    query = sa.select(
        messages.c.account_id,
        messages.c.idempotency_key,
        messages.c.message_id,
        messages.c.recipient,
        messages.c.request_fingerprint,
    ).where(sa.tuple_(messages.c.account_id, messages.c.idempotency_key).in_(keys))
    found = connection.execute(query)
    return {(row[0], row[1]): (row[2], row[3], row[4]) for row in found}
