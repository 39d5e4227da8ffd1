"""Queries on messages: accepting, reading, cancelling, claiming, recording outcomes."""

import functools
import itertools
import operator
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import decode_content
from kurir.domain.ids import new_message_id
from kurir.domain.status import (
    CANCELLABLE,
    CLAIMABLE,
    RECEIPT_ORDER,
    MessageStatus,
    is_receipt_progress,
)
from kurir.store.postgres import hold_off_removal, notify_new_messages
from kurir.store.queries import dialect_insert
from kurir.store.records import (
    Accepted,
    ButtonPress,
    ClaimedMessage,
    DeviceRemoved,
    IdempotencyMismatch,
    MessageView,
    NewMessage,
    Receipt,
    SendOutcome,
)
from kurir.store.tables import devices, messages

_CLAIMABLE = [str(s) for s in CLAIMABLE]
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


_VIEW_COLUMNS = (
    messages.c.message_id,
    devices.c.public_id.label("device"),
    devices.c.phone.label("device_phone"),
    devices.c.transport.label("device_transport"),
    messages.c.recipient,
    messages.c.content,
    messages.c.status,
    messages.c.due_at,
    messages.c.attempts,
    messages.c.last_error,
    messages.c.provider_message_id,
    messages.c.reply,
    messages.c.created_at,
    messages.c.sending_at,
    messages.c.sent_at,
    messages.c.delivered_at,
    messages.c.read_at,
    messages.c.failed_at,
    messages.c.cancelled_at,
)


def get_message(
    connection: Connection, message_id: str, *, account_id: int | None
) -> MessageView | None:
    """The message, if it exists and (when ``account_id`` is given) that account owns it."""
    query = (
        sa.select(*_VIEW_COLUMNS)
        .select_from(messages.join(devices, devices.c.id == messages.c.device_id))
        .where(messages.c.message_id == message_id)
    )
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    row = (connection.execute(query)).first()
    return MessageView(**row._asdict()) if row is not None else None


def cancel_message(
    connection: Connection, message_id: str, *, account_id: int, now: int
) -> MessageView | None:
    """Withdraw a message that no worker has claimed yet.

    Returns the message as it is afterwards (cancelled, or unchanged when it
    was too late), or None when the account has no such message.
    """
    connection.execute(
        messages.update()
        .where(
            messages.c.message_id == message_id,
            messages.c.account_id == account_id,
            messages.c.status.in_([str(s) for s in CANCELLABLE]),
        )
        .values(status=MessageStatus.CANCELLED, cancelled_at=now)
    )
    return get_message(connection, message_id, account_id=account_id)


def _earliest(column: sa.ColumnElement[Any], status: str) -> sa.ScalarSelect[Any]:
    """``column``'s least value among a device's messages in ``status``."""
    return (
        sa.select(column)
        .where(messages.c.status == status, messages.c.device_id == devices.c.id)
        .order_by(column)
        .limit(1)
        .scalar_subquery()
    )


_NEXT_DUE = sa.select(
    devices.c.id,
    *(_earliest(messages.c.due_at, status) for status in _CLAIMABLE),
    # Only idle devices are asked about, so their sending messages are a dead
    # worker's: few, and read whole.
    _earliest(messages.c.lease_until, MessageStatus.SENDING.value),
).where(devices.c.id.in_(sa.bindparam("device_ids", expanding=True)))


def next_due_by_device(connection: Connection, device_ids: Sequence[int]) -> dict[int, int]:
    """For each device with waiting work, when its next message can be claimed.

    That is its earliest due time, or the moment a lease on a message that is
    stuck in "sending" runs out (its worker died), whichever is sooner. Each
    is read at the head of its status's index range for the device, so the
    cost does not grow with the messages scheduled behind.
    """
    if not device_ids:
        return {}
    due: dict[int, int] = {}
    for device_id, *times in connection.execute(_NEXT_DUE, {"device_ids": list(device_ids)}):
        known = [int(t) for t in times if t is not None]
        if known:
            due[int(device_id)] = min(known)
    return due


def release_claims(connection: Connection, *, worker: str, pks: Sequence[int]) -> None:
    """Give back claimed messages a stopping worker will not send, for a prompt resend."""
    if not pks:
        return
    connection.execute(
        messages.update()
        .where(
            messages.c.id.in_(list(pks)),
            messages.c.lease_owner == worker,
            messages.c.status == MessageStatus.SENDING,
        )
        .values(
            status=MessageStatus.QUEUED,
            lease_owner=None,
            lease_until=None,
            attempts=messages.c.attempts - 1,
        )
    )


def claim_due_messages(
    connection: Connection,
    *,
    worker: str,
    device_limits: dict[int, int],
    now: int,
    lease_ms: int,
) -> list[ClaimedMessage]:
    """Lease up to ``device_limits[device]`` due messages of each device, oldest first.

    Also takes back messages whose lease ran out while ``sending``: their
    worker died mid-send. Each device's messages come back in due order, so a
    device sends them in the order they were meant to go. Only devices that
    are in service and whose lease ``worker`` still holds are claimed for: a
    worker that lost a device, or a removed device, sends nothing more for it.
    """
    if not device_limits:
        return []
    devices_by_limit: dict[int, list[int]] = {}
    for device, limit in device_limits.items():
        devices_by_limit.setdefault(limit, []).append(device)
    parameters: dict[str, Any] = {
        "worker": worker,
        "now": now,
        "lease_end": now + lease_ms,
        "device_ids": list(device_limits),
        "head_limit": max(devices_by_limit),
    }
    for n, (limit, device_ids) in enumerate(devices_by_limit.items()):
        parameters[f"device_ids_{n}"] = device_ids
        parameters[f"limit_{n}"] = limit
    statement = _claim_statement(connection.dialect.name, len(devices_by_limit))
    rows = sorted(connection.execute(statement, parameters).all(), key=lambda r: (r.due_at, r.id))
    return [
        ClaimedMessage(
            id=row.id,
            message_id=row.message_id,
            device_id=row.device_id,
            recipient=row.recipient,
            content=row.content,
            attempts=row.attempts,
        )
        for row in rows
    ]


@functools.lru_cache(maxsize=16)
def _claim_statement(dialect: str, limits: int) -> sa.Update:
    """The claim, for a dialect and a number of distinct per-device limits.

    Built once: put together on each call, it cost the writer thread more
    than the claim itself. A device's claimable messages lie in three ranges
    of the index on (status, device_id, due_at, id): scheduled and queued
    ones that are due, and sending ones whose lease ran out. Each range is
    read from its head in claim order and left after the largest limit, and
    only those heads are ranked, so a claim costs what it returns however
    many messages are scheduled behind. (One condition with an OR of "due"
    and "lease ran out" let SQLite use only the device_id part of an index
    and read every waiting message of the device.)
    """
    now = sa.bindparam("now", type_=sa.BigInteger)

    def head(status: str, claimable: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(messages.c.id, messages.c.device_id, messages.c.due_at)
            .where(messages.c.status == status, messages.c.device_id == devices.c.id, claimable)
            .order_by(messages.c.due_at, messages.c.id)
            .limit(sa.bindparam("head_limit", type_=sa.Integer))
        )

    heads = [head(status, messages.c.due_at <= now) for status in _CLAIMABLE]
    heads.append(head(MessageStatus.SENDING.value, messages.c.lease_until < now))
    held = sa.and_(
        devices.c.id.in_(sa.bindparam("device_ids", expanding=True)),
        devices.c.removed_at.is_(None),
        devices.c.lease_owner == sa.bindparam("worker"),
        devices.c.lease_until >= now,
    )
    candidates: sa.Subquery
    if dialect == "postgresql":
        per_device = sa.union_all(*heads).lateral("head")
        candidates = (
            sa.select(per_device).select_from(devices.join(per_device, sa.true())).where(held)
        ).subquery()
    else:
        # SQLite has no LATERAL, and no LIMIT on a member of a UNION: each
        # head is a subquery of its own, run once per device by a correlated IN.
        union = sa.union_all(*(sa.select(h.correlate(devices).subquery()) for h in heads))
        candidate = messages.alias("candidate")
        candidates = (
            sa.select(candidate.c.id, candidate.c.device_id, candidate.c.due_at)
            .select_from(
                devices.join(candidate, candidate.c.id.in_(sa.select(union.subquery().c.id)))
            )
            .where(held)
        ).subquery()

    ranked = sa.select(
        candidates.c.id,
        candidates.c.device_id,
        sa.func.row_number()
        .over(
            partition_by=candidates.c.device_id,
            order_by=(candidates.c.due_at, candidates.c.id),
        )
        .label("position"),
    ).subquery()
    device_limit = sa.case(
        *(
            (
                ranked.c.device_id.in_(sa.bindparam(f"device_ids_{n}", expanding=True)),
                sa.bindparam(f"limit_{n}", type_=sa.Integer),
            )
            for n in range(limits)
        )
    )
    chosen = sa.select(ranked.c.id).where(ranked.c.position <= device_limit)
    if dialect == "postgresql":
        chosen = (
            sa.select(messages.c.id)
            .where(messages.c.id.in_(chosen))
            .with_for_update(skip_locked=True)
        )
    # Checked again on the locked rows: another worker may have claimed one
    # since. A CASE, not an OR: SQLite would read an OR's terms through the
    # index (every scheduled message) rather than look up the chosen ids.
    still_claimable = sa.case(
        (messages.c.status == MessageStatus.SENDING, messages.c.lease_until < now),
        else_=sa.and_(messages.c.status.in_(_CLAIMABLE), messages.c.due_at <= now),
    )
    return (
        messages.update()
        .where(messages.c.id.in_(chosen), still_claimable)
        .values(
            status=MessageStatus.SENDING,
            lease_owner=sa.bindparam("worker"),
            lease_until=sa.bindparam("lease_end", type_=sa.BigInteger),
            attempts=messages.c.attempts + 1,
            sending_at=now,
        )
        .returning(
            messages.c.id,
            messages.c.message_id,
            messages.c.device_id,
            messages.c.recipient,
            messages.c.content,
            messages.c.attempts,
            messages.c.due_at,
        )
    )


# A receipt may have been recorded before the worker recorded "sent".
_STATUS_AFTER_SEND = sa.case(
    (messages.c.read_at.is_not(None), MessageStatus.READ.value),
    (messages.c.delivered_at.is_not(None), MessageStatus.DELIVERED.value),
    else_=MessageStatus.SENT.value,
)


# What each outcome writes; every one also ends the worker's lease.
_OUTCOME_VALUES: dict[str, dict[str, Any]] = {
    MessageStatus.SENT: {
        "status": _STATUS_AFTER_SEND,
        # A receipt stamped earlier than our own record proves it was sent by then.
        "sent_at": sa.func.coalesce(
            sa.case((messages.c.delivered_at < sa.bindparam("at"), messages.c.delivered_at)),
            sa.bindparam("at"),
        ),
        "provider_message_id": sa.bindparam("provider_id"),
        "last_error": None,
    },
    MessageStatus.QUEUED: {
        "status": MessageStatus.QUEUED,
        "due_at": sa.bindparam("due"),
        "last_error": sa.bindparam("error"),
    },
    MessageStatus.FAILED: {
        "status": MessageStatus.FAILED,
        "failed_at": sa.bindparam("at"),
        "last_error": sa.bindparam("error"),
    },
}


def record_outcomes(connection: Connection, outcomes: Sequence[SendOutcome]) -> None:
    """Record send results, each only if its worker still holds the message's lease.

    A worker whose lease ran out (it stalled, another worker took over) must
    not overwrite what the new holder records.
    """
    held = sa.and_(
        messages.c.id == sa.bindparam("pk"),
        messages.c.status == MessageStatus.SENDING,
        messages.c.lease_owner == sa.bindparam("worker"),
    )
    for status, values in _OUTCOME_VALUES.items():
        group = [o for o in outcomes if o.status == status]
        if not group:
            continue
        statement = (
            messages.update().where(held).values(**values, lease_owner=None, lease_until=None)
        )
        connection.execute(
            statement,
            [
                {
                    "pk": o.message_pk,
                    "worker": o.worker,
                    "at": o.at,
                    "provider_id": o.provider_message_id,
                    "due": o.due_at,
                    "error": o.error,
                }
                for o in group
            ],
        )


def apply_receipts(connection: Connection, receipts: Sequence[Receipt]) -> list[bool]:
    """Apply a batch of receipts; each answer says whether its device has that message."""
    return [
        _apply_receipt(
            connection,
            device_id=receipt.device_id,
            message_id=receipt.message_id,
            status=MessageStatus(receipt.status),
            at=receipt.at,
        )
        for receipt in receipts
    ]


def apply_button_press(connection: Connection, *, device_id: int, press: ButtonPress) -> str | None:
    """Record a pressed button as the message's reply, and the message as read.

    Returns the pressed button's label, or None when the device has no button
    message of that id with that many buttons.
    """
    row = connection.execute(
        sa.select(messages.c.content).where(
            messages.c.message_id == press.message_id, messages.c.device_id == device_id
        )
    ).first()
    if row is None:
        return None
    content = decode_content(row.content)
    if not isinstance(content, ButtonMessage) or not 1 <= press.index <= len(content.buttons):
        return None
    label = content.buttons[press.index - 1]
    reply = msgspec.json.encode({"button": label, "index": press.index, "at": press.at}).decode()
    _apply_receipt(
        connection,
        device_id=device_id,
        message_id=press.message_id,
        status=MessageStatus.READ,
        at=press.at,
        reply=reply,
    )
    return label


def _apply_receipt(
    connection: Connection,
    *,
    device_id: int,
    message_id: str,
    status: MessageStatus,
    at: int,
    reply: str | None = None,
) -> bool:
    """Record a delivery or read receipt (and a button reply) on a device's message.

    Receipts only move a message forward, and may arrive out of order: a read
    receipt also fills in a missing delivery time, and a receipt that beats
    the worker's own "sent" record is kept as a time for that record to use.
    """
    mine = sa.and_(messages.c.message_id == message_id, messages.c.device_id == device_id)
    row = (connection.execute(sa.select(messages.c.status).where(mine))).first()
    if row is None:
        return False
    current = MessageStatus(row.status)
    values: dict[str, Any] = {}
    if current == MessageStatus.SENDING or current in RECEIPT_ORDER:
        values = _receipt_times(status, at)
        if is_receipt_progress(current, status):
            values["status"] = status
    if reply is not None:
        values["reply"] = reply
    if values:
        connection.execute(messages.update().where(mine).values(**values))
    return True


def _receipt_times(status: MessageStatus, at: int) -> dict[str, Any]:
    times: dict[str, Any] = {"delivered_at": sa.func.coalesce(messages.c.delivered_at, at)}
    if status == MessageStatus.READ:
        times["read_at"] = sa.func.coalesce(messages.c.read_at, at)
    return times
