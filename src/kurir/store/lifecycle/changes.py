"""What every status change shares: its record, its event, its broadcast count.

The other modules of `kurir.store.lifecycle` change statuses; each change
goes through `record_changes` (or `changed_rows`, which runs an UPDATE and
records what it returned), so each writes its event and counts its move in
its own transaction.
"""

import functools
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import MessageStatusEvent
from kurir.domain.status import (
    CANCELLABLE,
    CLAIMABLE,
    MessageStatus,
)
from kurir.store.broadcast_totals import count_moves
from kurir.store.events import NewEvent, record_events
from kurir.store.tables import devices, messages

CLAIMABLE_NAMES = [str(s) for s in CLAIMABLE]
CANCELLABLE_NAMES = [str(s) for s in CANCELLABLE]
SENDING_NAMES = [MessageStatus.SENDING.value]


class Change(NamedTuple):
    """A message whose status changed, as the change's own read of its row found it.

    Only the makings of an event: the event itself, with its device's public
    id, is made only when an endpoint of the account may want it, so a batch
    without webhooks reads nothing more and builds nothing.
    """

    account_id: int
    status: MessageStatus
    at: int
    message_id: str
    device_id: int


#: Statuses by their stored names; cheaper than calling the enum for each row.
STATUSES = {str(status): status for status in MessageStatus}

_DEVICE_PUBLIC_IDS = sa.select(devices.c.id, devices.c.public_id).where(
    devices.c.id.in_(sa.bindparam("ids", expanding=True))
)


def record_changes(connection: Connection, changes: Sequence[Change]) -> None:
    """Record the ``message.status`` event of each change."""

    def status_events() -> Iterator[NewEvent]:
        # A batch's messages are of a few devices: those are read, not each message.
        device_ids = sorted({change.device_id for change in changes})
        public_ids = dict(connection.execute(_DEVICE_PUBLIC_IDS, {"ids": device_ids}).all())
        for account_id, status, at, message_id, device_id in changes:
            event = MessageStatusEvent(
                device=public_ids[device_id], message_id=message_id, status=status, at=at
            )
            yield NewEvent(account_id, device_id, event)

    account_ids = {change.account_id for change in changes}
    record_events(connection, status_events(), account_ids=account_ids)


def changed_rows(
    connection: Connection,
    update: sa.Update,
    froms: Sequence[str],
    status: MessageStatus,
    at: int,
    parameters: dict[str, Any] | None = None,
) -> int:
    """Move the rows ``update`` selects from each of ``froms`` to ``status``; how many.

    Records their events, and counts the broadcasts' messages among them.
    """
    changed = 0
    for was in froms:
        result = connection.execute(
            update.where(messages.c.status == was).returning(
                messages.c.id,
                messages.c.account_id,
                messages.c.message_id,
                messages.c.device_id,
                messages.c.broadcast_id,
            ),
            parameters or {},
        )
        # A device's whole backlog may fail at once: its events are made a part at a time.
        for rows in result.partitions(10_000):
            record_changes(
                connection,
                [
                    Change(account, status, at, message, device)
                    for _, account, message, device, _ in rows
                ],
            )
            count_moves(connection, ((b, was, status) for *_, b in rows if b is not None))
            changed += len(rows)
    return changed


def for_update(connection: Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    """``query`` locking its messages on PostgreSQL (SQLite has one writer at a time)."""
    if connection.dialect.name == "postgresql":
        return _locking(query)
    return query


@functools.cache
def _locking(query: sa.Select[Any]) -> sa.Select[Any]:
    return query.with_for_update(of=messages)


BY_PK = messages.c.id == sa.bindparam("pk")
ENDS_LEASE = {"lease_owner": None, "lease_until": None}
