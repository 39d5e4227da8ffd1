"""A broadcast's messages inserted held, in one go, however many they are.

Tens of thousands of rows in one transaction: on PostgreSQL by COPY, else
through `kurir.store.bulk` (the driver's executemany on SQLite).
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.broadcast import HELD_DUE_AT
from kurir.domain.ids import new_message_id
from kurir.domain.status import MessageStatus
from kurir.store.broadcast_records import BroadcastMessage, NewBroadcast
from kurir.store.bulk import insert_rows
from kurir.store.postgres import copy_unopposed
from kurir.store.tables import messages

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
        rows = _rows(new, broadcast_id, receivers, pending, ids)
        insert_rows(connection, messages, _INSERT_COLUMNS, rows, skip_conflicts=True)
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
