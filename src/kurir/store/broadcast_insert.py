"""A broadcast's messages inserted held, in one go, however many they are.

Tens of thousands of rows in one transaction: on SQLite straight through the
driver's executemany, on PostgreSQL as columns of arrays unnested into rows.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from kurir.domain.broadcast import HELD_DUE_AT
from kurir.domain.ids import new_message_id
from kurir.domain.status import MessageStatus
from kurir.store.broadcast_records import BroadcastMessage, NewBroadcast
from kurir.store.postgres import copy_unopposed
from kurir.store.tables import messages

_ROWS_PER_STATEMENT = 10_000

_INSERT_COLUMNS = (
    "message_id",
    "account_id",
    "device_id",
    "recipient",
    "content",
    "status",
    "due_at",
    "created_at",
    "broadcast_id",
)
_SQLITE_COMPILED = (
    sqlite.insert(messages)
    .values({name: sa.bindparam(name) for name in _INSERT_COLUMNS})
    .on_conflict_do_nothing()
    .compile(dialect=sqlite.dialect())
)
# Rows are passed positionally, in the order the statement names them.
assert tuple(_SQLITE_COMPILED.positiontup or ()) == _INSERT_COLUMNS
_SQLITE_INSERT = str(_SQLITE_COMPILED)


def insert_held(
    connection: Connection,
    new: NewBroadcast,
    broadcast_id: int,
    receivers: Sequence[BroadcastMessage],
) -> None:
    """Insert the messages held, in the receivers' order (their ids keep it).

    A message id that another process took in the same millisecond (about
    2^-20 per pair) is skipped by the conflict clause; the count tells, and
    those messages are inserted again under new ids. On PostgreSQL they are
    first copied, all or none, which takes a third less time when none
    conflicts, as nearly always.
    """
    in_broadcast = messages.c.broadcast_id == broadcast_id
    pending = list(range(len(receivers)))
    copy = connection.dialect.name == "postgresql"
    while pending:
        ids = [new_message_id() for _ in pending]
        if copy and copy_unopposed(
            connection, messages, _INSERT_COLUMNS, _rows(new, broadcast_id, receivers, pending, ids)
        ):
            return
        copy = False  # a conflict: the rows that remain go in the slower way
        _insert_rows(connection, _rows(new, broadcast_id, receivers, pending, ids))
        count = connection.execute(
            sa.select(sa.func.count()).select_from(messages).where(in_broadcast)
        ).scalar_one()
        if count == len(receivers):
            return
        query = sa.select(messages.c.message_id).where(in_broadcast)
        stored = set(connection.execute(query).scalars())
        pending = [index for n, index in enumerate(pending) if ids[n] not in stored]


def _rows(
    new: NewBroadcast,
    broadcast_id: int,
    receivers: Sequence[BroadcastMessage],
    pending: list[int],
    ids: list[str],
) -> Iterator[tuple[Any, ...]]:
    """The rows of the ``pending`` receivers, under ``ids``, in `_INSERT_COLUMNS` order."""
    for n, index in enumerate(pending):
        yield (
            ids[n],
            new.account_id,
            new.device_id,
            receivers[index].recipient,
            receivers[index].content,
            MessageStatus.SCHEDULED.value,
            HELD_DUE_AT,
            new.created_at,
            broadcast_id,
        )


def _insert_rows(connection: Connection, rows: Iterator[tuple[Any, ...]]) -> None:
    """Insert rows (in `_INSERT_COLUMNS` order), skipping those that meet a conflict."""
    if connection.dialect.name == "sqlite":
        # Straight to the driver, as the accept path does: through SQLAlchemy
        # each row's parameters cost several times the insert itself.
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.executemany(_SQLITE_INSERT, rows)
        return
    # PostgreSQL: a column a parameter, each an array, unnested into rows. One
    # statement carries thousands of rows, where rows of VALUES took ten
    # times as long to send and to plan.
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _ROWS_PER_STATEMENT:
            _insert_unnested(connection, chunk)
            chunk = []
    if chunk:
        _insert_unnested(connection, chunk)


_UNNESTED = (
    sa.func.unnest(
        *(
            sa.cast(sa.bindparam(f"all_{name}"), postgresql.ARRAY(messages.c[name].type))
            for name in _INSERT_COLUMNS
        )
    )
    .table_valued(*_INSERT_COLUMNS)
    .render_derived()
)
_POSTGRES_INSERT = (
    postgresql.insert(messages)
    .from_select(list(_INSERT_COLUMNS), sa.select(*_UNNESTED.c))
    .on_conflict_do_nothing()
)


def _insert_unnested(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    columns = zip(_INSERT_COLUMNS, zip(*rows, strict=True), strict=True)
    connection.execute(_POSTGRES_INSERT, {f"all_{name}": list(values) for name, values in columns})
