"""Broadcasts: stored with all their messages in one transaction, read, paused, resumed, cancelled.

A broadcast's messages are ordinary rows of ``messages`` that carry its id;
they are inserted held (see `kurir.store.planning`) and the first batch is
planned in the same transaction, so a broadcast due now starts at once, with
or without a worker in the API's process.
"""

import random
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.broadcast import HELD_DUE_AT, BroadcastState
from kurir.domain.status import MessageStatus
from kurir.store import planning
from kurir.store.accepting import removed_devices
from kurir.store.broadcast_insert import insert_held
from kurir.store.broadcast_records import (
    Broadcast,
    BroadcastMessage,
    BroadcastProgress,
    NewBroadcast,
    StateConflict,
)
from kurir.store.broadcast_totals import start_totals
from kurir.store.lifecycle import broadcasting
from kurir.store.postgres import hold_off_removal, notify_new_messages
from kurir.store.tables import broadcast_media, broadcast_totals, broadcasts, devices, messages

_COLUMNS = (
    broadcasts.c.id,
    broadcasts.c.public_id,
    broadcasts.c.account_id,
    broadcasts.c.device_id,
    devices.c.public_id.label("device"),
    broadcasts.c.title,
    broadcasts.c.type,
    broadcasts.c.state,
    broadcasts.c.starts_at,
    broadcasts.c.window_start,
    broadcasts.c.window_end,
    broadcasts.c.interval_from_ms,
    broadcasts.c.interval_to_ms,
    broadcasts.c.total,
    broadcasts.c.invalid,
    broadcasts.c.duplicates,
    broadcasts.c.opted_out,
    broadcasts.c.request_fingerprint,
    broadcasts.c.first_message_pk,
    broadcasts.c.last_message_pk,
    broadcasts.c.created_at,
    broadcasts.c.updated_at,
)
_WITH_DEVICE = broadcasts.join(devices, devices.c.id == broadcasts.c.device_id)
_WITH_TOTALS = _WITH_DEVICE.join(
    broadcast_totals, broadcast_totals.c.broadcast_id == broadcasts.c.id
)


def create_broadcast(
    connection: Connection,
    new: NewBroadcast,
    receivers: Sequence[BroadcastMessage],
    *,
    zone: tzinfo,
    rng: random.Random,
) -> Broadcast | None:
    """Store the broadcast and its messages, and plan the first batch.

    Returns None when the device was removed meanwhile (nothing is stored).
    A broadcast with the same Idempotency-Key stored by a concurrent request
    makes the transaction fail on its unique key; the caller reads that one.
    """
    if connection.dialect.name == "postgresql":
        hold_off_removal(connection, {new.device_id})
    if removed_devices(connection, {new.device_id}):
        return None
    broadcast_id = connection.execute(
        broadcasts.insert()
        .values(
            public_id=new.public_id,
            account_id=new.account_id,
            device_id=new.device_id,
            title=new.title,
            type=new.type,
            state=BroadcastState.ACTIVE,
            starts_at=new.starts_at,
            window_start=new.window_start,
            window_end=new.window_end,
            interval_from_ms=new.interval_from_ms,
            interval_to_ms=new.interval_to_ms,
            total=len(receivers),
            invalid=new.invalid,
            duplicates=new.duplicates,
            opted_out=new.opted_out,
            plan_at=new.created_at,
            idempotency_key=new.idempotency_key,
            request_fingerprint=new.request_fingerprint,
            created_at=new.created_at,
            updated_at=new.created_at,
        )
        .returning(broadcasts.c.id)
    ).scalar_one()
    if new.media is not None:
        connection.execute(
            broadcast_media.insert().values(
                broadcast_id=broadcast_id,
                media_type=new.media.media_type,
                content_type=new.media.content_type,
                data=new.media.data,
            )
        )
    insert_held(connection, new, broadcast_id, receivers)
    start_totals(connection, broadcast_id, scheduled=len(receivers))
    # All held still: both ends are read at the ends of one range of the index.
    first, last = connection.execute(
        sa.select(sa.func.min(messages.c.id), sa.func.max(messages.c.id)).where(
            messages.c.broadcast_id == broadcast_id,
            messages.c.status == MessageStatus.SCHEDULED,
            messages.c.due_at == HELD_DUE_AT,
        )
    ).one()
    connection.execute(
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id)
        .values(first_message_pk=first, last_message_pk=last)
    )
    planning.plan_broadcast(connection, broadcast_id, now=new.created_at, zone=zone, rng=rng)
    if connection.dialect.name == "postgresql":
        notify_new_messages(connection, {new.device_id})
    found = get_broadcast(connection, new.public_id, account_id=new.account_id)
    assert found is not None  # stored just now, in this transaction
    return found


def _broadcast(row: Sequence[Any]) -> Broadcast:
    """A row that selected `_COLUMNS` first, as a Broadcast."""
    return Broadcast(**{column.name: value for column, value in zip(_COLUMNS, row, strict=False)})


def get_broadcast(connection: Connection, public_id: str, *, account_id: int) -> Broadcast | None:
    """The account's broadcast of that id; another account's is not found."""
    row = connection.execute(
        sa.select(*_COLUMNS)
        .select_from(_WITH_DEVICE)
        .where(broadcasts.c.public_id == public_id, broadcasts.c.account_id == account_id)
    ).first()
    return _broadcast(row) if row is not None else None


def find_by_key(
    connection: Connection, *, account_id: int, idempotency_key: str
) -> Broadcast | None:
    """The broadcast an earlier request with this Idempotency-Key created."""
    row = connection.execute(
        sa.select(*_COLUMNS)
        .select_from(_WITH_DEVICE)
        .where(
            broadcasts.c.account_id == account_id,
            broadcasts.c.idempotency_key == idempotency_key,
        )
    ).first()
    return _broadcast(row) if row is not None else None


def list_broadcasts(
    connection: Connection, *, account_id: int, limit: int, before: int | None = None
) -> list[tuple[Broadcast, bool]]:
    """The account's broadcasts, newest first, each with whether messages still wait."""
    unsettled = (
        broadcast_totals.c.scheduled + broadcast_totals.c.queued + broadcast_totals.c.sending
    )
    query = (
        sa.select(*_COLUMNS, (unsettled > 0).label("waiting"))
        .select_from(_WITH_TOTALS)
        .where(broadcasts.c.account_id == account_id)
        .order_by(broadcasts.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(broadcasts.c.id < before)
    return [(_broadcast(row), bool(row.waiting)) for row in connection.execute(query)]


def _progress_columns(broadcast_id: Any) -> list[sa.ColumnElement[Any]]:
    """The broadcast's messages counted per status, then its next due time per waiting status.

    The counts are one row (`kurir.store.broadcast_totals`); each due time is
    the head of a waiting status's planned range of the broadcast's index.
    """
    in_broadcast = messages.c.broadcast_id == broadcast_id
    counts = [broadcast_totals.c[status] for status in MessageStatus]
    next_due = [
        sa.select(sa.func.min(messages.c.due_at))
        .where(in_broadcast, messages.c.status == status, messages.c.due_at < HELD_DUE_AT)
        .scalar_subquery()
        for status in (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
    ]
    return [*counts, *next_due]


def _progress(values: Sequence[Any]) -> BroadcastProgress:
    """`_progress_columns`' values as a BroadcastProgress."""
    counts, due = values[: len(MessageStatus)], values[len(MessageStatus) :]
    found = zip(MessageStatus, counts, strict=True)
    by_status = {str(status): int(count) for status, count in found if count}
    planned = [int(at) for at in due if at is not None]
    return BroadcastProgress(by_status, min(planned) if planned else None)


def progress(connection: Connection, broadcast_id: int) -> BroadcastProgress:
    """The broadcast's messages by status, and when the next planned one is due."""
    query = sa.select(*_progress_columns(broadcast_id)).where(
        broadcast_totals.c.broadcast_id == broadcast_id
    )
    return _progress(connection.execute(query).one())


def _lock(connection: Connection, public_id: str, account_id: int) -> Any:
    query = sa.select(broadcasts.c.id, broadcasts.c.state, broadcasts.c.device_id).where(
        broadcasts.c.public_id == public_id, broadcasts.c.account_id == account_id
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _set_state(connection: Connection, broadcast_id: int, **values: Any) -> None:
    connection.execute(broadcasts.update().where(broadcasts.c.id == broadcast_id).values(**values))


def pause_broadcast(
    connection: Connection, public_id: str, *, account_id: int, now: int
) -> Broadcast | StateConflict | None:
    """Stop sending: the planned messages are held again (one batch at most), none is touched else.

    Messages being sent finish. Pausing a paused broadcast changes nothing.
    """
    row = _lock(connection, public_id, account_id)
    if row is None:
        return None
    if row.state == BroadcastState.CANCELLED:
        return StateConflict(row.state)
    if row.state == BroadcastState.ACTIVE:
        _set_state(
            connection,
            row.id,
            state=BroadcastState.PAUSED,
            plan_at=None,
            planned_until=None,
            updated_at=now,
        )
        broadcasting.hold(connection, row.id)
    return get_broadcast(connection, public_id, account_id=account_id)


def resume_broadcast(
    connection: Connection,
    public_id: str,
    *,
    account_id: int,
    now: int,
    zone: tzinfo,
    rng: random.Random,
) -> Broadcast | StateConflict | None:
    """Send again, planned afresh from now. Resuming an active broadcast changes nothing."""
    row = _lock(connection, public_id, account_id)
    if row is None:
        return None
    if row.state == BroadcastState.CANCELLED:
        return StateConflict(row.state)
    if row.state == BroadcastState.PAUSED:
        _set_state(
            connection,
            row.id,
            state=BroadcastState.ACTIVE,
            plan_at=now,
            planned_until=None,
            updated_at=now,
        )
        planning.plan_broadcast(connection, row.id, now=now, zone=zone, rng=rng)
        if connection.dialect.name == "postgresql":
            notify_new_messages(connection, {row.device_id})
    return get_broadcast(connection, public_id, account_id=account_id)


def cancel_broadcast(
    connection: Connection, public_id: str, *, account_id: int, now: int
) -> Broadcast | None:
    """Cancel: nothing more is sent, and every message not yet sending will fail.

    This transaction holds the planned messages (no worker claims them from
    its commit on); failing the rest is the planner's, a batch a transaction
    (`planning.plan_broadcast`), which the caller may drive to the end itself.
    """
    row = _lock(connection, public_id, account_id)
    if row is None:
        return None
    if row.state != BroadcastState.CANCELLED:
        _set_state(
            connection,
            row.id,
            state=BroadcastState.CANCELLED,
            plan_at=now,
            planned_until=None,
            updated_at=now,
        )
        broadcasting.hold(connection, row.id)
    return get_broadcast(connection, public_id, account_id=account_id)


def stored_media(
    connection: Connection, public_id: str, *, device_id: int
) -> tuple[str, str, bytes] | None:
    """A media broadcast's file ``(media_type, content_type, data)``, for its device only."""
    row = connection.execute(
        sa.select(
            broadcast_media.c.media_type, broadcast_media.c.content_type, broadcast_media.c.data
        )
        .join(broadcasts, broadcasts.c.id == broadcast_media.c.broadcast_id)
        .where(broadcasts.c.public_id == public_id, broadcasts.c.device_id == device_id)
    ).first()
    return (row.media_type, row.content_type, bytes(row.data)) if row is not None else None


def broadcast_with_progress(
    connection: Connection, public_id: str, *, account_id: int
) -> tuple[Broadcast, BroadcastProgress] | None:
    """The account's broadcast and its progress, in one statement (GET's one round trip)."""
    row = connection.execute(
        sa.select(*_COLUMNS, *_progress_columns(broadcasts.c.id))
        .select_from(_WITH_TOTALS)
        .where(broadcasts.c.public_id == public_id, broadcasts.c.account_id == account_id)
    ).first()
    if row is None:
        return None
    return _broadcast(row[: len(_COLUMNS)]), _progress(row[len(_COLUMNS) :])
