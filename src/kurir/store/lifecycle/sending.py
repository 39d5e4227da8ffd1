"""A message's send: claimed under a lease, then sent, retried or failed by its worker."""

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.domain.status import (
    MessageStatus,
    Receipts,
)
from kurir.store import queue
from kurir.store.broadcast_totals import Move, count_moves
from kurir.store.lifecycle.changes import (
    BY_PK,
    CLAIMABLE_NAMES,
    ENDS_LEASE,
    SENDING_NAMES,
    STATUSES,
    Change,
    changed_rows,
    for_update,
    record_changes,
)
from kurir.store.records import (
    ClaimedMessage,
    SendOutcome,
)
from kurir.store.tables import devices, messages


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
    *(_earliest(messages.c.due_at, status) for status in CLAIMABLE_NAMES),
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


def release_claims(
    connection: Connection, *, worker: str, pks: Sequence[int], now: int | None = None
) -> None:
    """Give back claimed messages a stopping worker will not send, for a prompt resend."""
    if not pks:
        return
    changed_rows(
        connection,
        messages.update()
        .where(messages.c.id.in_(list(pks)), messages.c.lease_owner == worker)
        .values(
            status=MessageStatus.QUEUED,
            lease_owner=None,
            lease_until=None,
            attempts=messages.c.attempts - 1,
        ),
        SENDING_NAMES,
        MessageStatus.QUEUED,
        now_ms() if now is None else now,
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
    claim = _claim_statements(connection.dialect.name, len(devices_by_limit))
    left: dict[int, str]
    if claim.chosen is None:
        found = connection.execute(claim.update, parameters).all()
        left = {row.id: row.was for row in found}
    else:
        left = {row.id: row.status for row in connection.execute(claim.chosen, parameters)}
        if not left:
            return []
        found = connection.execute(claim.update, parameters).all()
    rows = sorted(found, key=lambda r: (r.due_at, r.id))
    # One taken over from a dead worker was sending already: no change of status.
    changed = [row for row in rows if left[row.id] != MessageStatus.SENDING]
    record_changes(
        connection,
        [
            Change(row.account_id, MessageStatus.SENDING, now, row.message_id, row.device_id)
            for row in changed
        ],
    )
    count_moves(
        connection,
        (
            (row.broadcast_id, left[row.id], MessageStatus.SENDING.value)
            for row in changed
            if row.broadcast_id is not None
        ),
    )
    return [
        ClaimedMessage(
            id=row.id,
            message_id=row.message_id,
            device_id=row.device_id,
            recipient=row.recipient,
            content=row.content,
            attempts=row.attempts,
            due_at=row.due_at,
        )
        for row in rows
    ]


class _Claim(NamedTuple):
    """A claim's statements.

    Each claimed message's former status is wanted (a broadcast's counts move
    from it), and RETURNING gives rows as they are after the update. On
    PostgreSQL the update joins the rows it locked, as they were, and returns
    their status. SQLite's RETURNING names only the updated table, so
    ``chosen`` reads the same rows first with their statuses, and the update
    chooses them again: its one writer changes nothing in between, and
    choosing costs SQLite less than a list of the ids costs SQLAlchemy.
    """

    chosen: sa.Select[Any] | None
    update: sa.Update


@functools.lru_cache(maxsize=16)
def _claim_statements(dialect: str, limits: int) -> _Claim:
    """The claim of what `queue.claimable` chooses, built once per dialect and limit count."""
    chosen, still_claimable = queue.claimable(dialect, limits)
    now = sa.bindparam("now", type_=sa.BigInteger)
    returned: list[sa.ColumnElement[Any]] = [
        messages.c.id,
        messages.c.recipient,
        messages.c.content,
        messages.c.attempts,
        messages.c.due_at,
        messages.c.message_id,
        messages.c.account_id,
        messages.c.device_id,
        messages.c.broadcast_id,
    ]
    if dialect == "postgresql":
        locked = chosen.subquery("locked")
        update = messages.update().where(messages.c.id == locked.c.id, still_claimable)
        returned.append(locked.c.status.label("was"))
        first = None
    else:
        first = sa.select(messages.c.id, messages.c.status).where(
            messages.c.id.in_(chosen), still_claimable
        )
        update = messages.update().where(messages.c.id.in_(chosen), still_claimable)
    update = update.values(
        status=MessageStatus.SENDING,
        lease_owner=sa.bindparam("worker"),
        lease_until=sa.bindparam("lease_end", type_=sa.BigInteger),
        attempts=messages.c.attempts + 1,
        # When it began sending: one taken over from a dead worker was
        # sending already and keeps its time.
        sending_at=sa.case(
            (messages.c.status == MessageStatus.SENDING, messages.c.sending_at), else_=now
        ),
    )
    return _Claim(first, update.returning(*returned))


_OUTCOME_ROWS = (
    sa.select(
        messages.c.id,
        messages.c.account_id,
        messages.c.status,
        messages.c.lease_owner,
        messages.c.delivered_at,
        messages.c.read_at,
        messages.c.message_id,
        messages.c.device_id,
        messages.c.broadcast_id,
    )
    .where(messages.c.id.in_(sa.bindparam("pks", expanding=True)))
    .order_by(messages.c.id)
)


#: What each outcome writes; every one also ends the worker's lease.
_OUTCOME_UPDATES: dict[str, sa.Update] = {
    MessageStatus.SENT: messages.update()
    .where(BY_PK)
    .values(
        status=sa.bindparam("new_status"),
        sent_at=sa.bindparam("at"),
        provider_message_id=sa.bindparam("provider_id"),
        last_error=None,
        **ENDS_LEASE,
    ),
    MessageStatus.QUEUED: messages.update()
    .where(BY_PK)
    .values(
        status=MessageStatus.QUEUED,
        due_at=sa.bindparam("due"),
        last_error=sa.bindparam("error"),
        **ENDS_LEASE,
    ),
    MessageStatus.FAILED: messages.update()
    .where(BY_PK)
    .values(
        status=MessageStatus.FAILED,
        failed_at=sa.bindparam("at"),
        last_error=sa.bindparam("error"),
        **ENDS_LEASE,
    ),
}


def record_outcomes(connection: Connection, outcomes: Sequence[SendOutcome]) -> None:
    """Record send results, each only if its worker still holds the message's lease.

    A worker whose lease ran out (it stalled, another worker took over) must
    not overwrite what the new holder records.
    """
    if not outcomes:
        return
    query = for_update(connection, _OUTCOME_ROWS)
    pks = [outcome.message_pk for outcome in outcomes]
    held = {row[0]: row for row in connection.execute(query, {"pks": pks})}
    writes: dict[str, list[dict[str, Any]]] = {status: [] for status in _OUTCOME_UPDATES}
    changes: list[Change] = []
    moves: list[Move] = []
    for outcome in outcomes:
        row = held.get(outcome.message_pk)
        status = STATUSES.get(outcome.status)
        if row is None or status not in writes:
            continue
        (
            pk,
            account_id,
            current,
            lease_owner,
            delivered_at,
            read_at,
            message_id,
            device_id,
            broadcast_id,
        ) = row
        if current != MessageStatus.SENDING or lease_owner != outcome.worker:
            continue
        del held[pk]  # its lease ends: another outcome for it is too late
        values: dict[str, Any] = {"pk": pk, "at": outcome.at, "error": outcome.error}
        if status == MessageStatus.SENT:
            status = Receipts(status, delivered_at, read_at).status_once_sent()
            values["new_status"] = status
            values["provider_id"] = outcome.provider_message_id
            # A receipt stamped earlier than our own record proves it was sent by then.
            if delivered_at is not None and delivered_at < outcome.at:
                values["at"] = delivered_at
        elif status == MessageStatus.QUEUED:
            values["due"] = outcome.due_at
        writes[outcome.status].append(values)
        if broadcast_id is not None:
            moves.append((broadcast_id, current, status))
        if status in (MessageStatus.DELIVERED, MessageStatus.READ):
            # Receipts came before this record (a fast provider): the message went
            # through each of these, and a receiver is told of each, in order.
            made = (message_id, device_id)
            changes.append(Change(account_id, MessageStatus.SENT, values["at"], *made))
            delivered = delivered_at or outcome.at
            changes.append(Change(account_id, MessageStatus.DELIVERED, delivered, *made))
            if status == MessageStatus.READ:
                changes.append(Change(account_id, MessageStatus.READ, read_at or outcome.at, *made))
        else:
            changes.append(Change(account_id, status, outcome.at, message_id, device_id))
    for outcome_status, rows in writes.items():
        if rows:
            connection.execute(_OUTCOME_UPDATES[outcome_status], rows)
    record_changes(connection, changes)
    count_moves(connection, moves)


def expire_claims(
    connection: Connection, *, workers: Sequence[str], device_ids: Sequence[int], now: int
) -> None:
    """End the leases of dead ``workers`` on their messages of ``device_ids``.

    The messages stay ``sending``, as if the leases had run out, so the next
    claim takes them back now: no status changes, and no event is due.
    """
    connection.execute(
        messages.update()
        .where(
            messages.c.device_id.in_(list(device_ids)),
            messages.c.status == MessageStatus.SENDING,
            messages.c.lease_owner.in_(list(workers)),
        )
        .values(lease_until=now - 1)
    )
