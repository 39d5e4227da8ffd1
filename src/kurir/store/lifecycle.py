"""A message's life after acceptance: every change of its status, and the events it causes.

Nothing else updates a message's status: claims, send outcomes, receipts,
replies, cancelling, and the device-wide changes (a removed device's waiting
and abandoned messages fail) are all made here, only ever forward (the rule
is `kurir.domain.status`), and each writes the ``message.status`` event it
causes (a reply also its ``message.reply``) in its own transaction, through
`kurir.store.events.record_events`. A change that changes nothing (a second
read receipt, a claim taken over from a dead worker) causes no event.

Batches stay set-based, never a statement per message: an UPDATE that returns
its rows does (claims, cancelling, failing a device's messages); an
executemany cannot, so outcomes and receipts read their rows first in one
SELECT (on PostgreSQL locked, in id order, so that no other process changes
them in between), decide in Python, and write by primary key. What an event
names beyond the change is read only when an endpoint may want it.

A change to a broadcast's message is also counted in the broadcast's totals
(`kurir.store.broadcast_totals`), from the status it left to the one it took,
so each change knows the status it left: an UPDATE that returns its rows
returns them as they are afterwards, so one that may find several statuses
runs once per status it may find.
"""

import functools
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import decode_content
from kurir.domain.events import MessageReplyEvent, MessageStatusEvent
from kurir.domain.status import (
    CANCELLABLE,
    CLAIMABLE,
    DEVICE_REMOVED,
    RECEIPTS,
    MessageStatus,
    Receipts,
)
from kurir.store import queue
from kurir.store.broadcast_totals import Move, count_moves
from kurir.store.events import NewEvent, record_events
from kurir.store.reading import get_message
from kurir.store.records import (
    ButtonPress,
    ClaimedMessage,
    MessageView,
    ProviderFailure,
    Receipt,
    ReplyRecorded,
    SendOutcome,
)
from kurir.store.tables import devices, messages

_CLAIMABLE = [str(s) for s in CLAIMABLE]
_CANCELLABLE = [str(s) for s in CANCELLABLE]
_SENDING = [MessageStatus.SENDING.value]

#: A message whose status changed: its primary key, its account, the status,
#: when, its public id and its device's key, as the change's own read of the row
#: found them. Only the makings of an event: the event itself, with its device's
#: public id, is made only when an endpoint of the account may want it, so a
#: batch without webhooks reads nothing more and builds nothing.
_Change = tuple[int, int, MessageStatus, int, str, int]

#: Statuses by their stored names; cheaper than calling the enum for each row.
_STATUSES = {str(status): status for status in MessageStatus}

_DEVICE_PUBLIC_IDS = sa.select(devices.c.id, devices.c.public_id).where(
    devices.c.id.in_(sa.bindparam("ids", expanding=True))
)


def _record_changes(connection: Connection, changes: Sequence[_Change]) -> None:
    """Record the ``message.status`` event of each change."""

    def status_events() -> Iterator[NewEvent]:
        # A batch's messages are of a few devices: those are read, not each message.
        device_ids = sorted({change[5] for change in changes})
        public_ids = dict(connection.execute(_DEVICE_PUBLIC_IDS, {"ids": device_ids}).all())
        for _, account_id, status, at, message_id, device_id in changes:
            event = MessageStatusEvent(
                device=public_ids[device_id], message_id=message_id, status=status, at=at
            )
            yield NewEvent(account_id, device_id, event)

    account_ids = {change[1] for change in changes}
    record_events(connection, status_events(), account_ids=account_ids)


def _changed_rows(
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
            _record_changes(
                connection,
                [
                    (pk, account, status, at, message, device)
                    for pk, account, message, device, _ in rows
                ],
            )
            count_moves(connection, ((b, was, status) for *_, b in rows if b is not None))
            changed += len(rows)
    return changed


def fail_messages_where(
    connection: Connection,
    which: sa.ColumnElement[bool],
    *,
    statuses: Sequence[str],
    reason: str,
    now: int,
    parameters: dict[str, Any] | None = None,
) -> int:
    """Fail the messages in ``statuses`` that ``which`` selects (a broadcast's, say); how many.

    Any lease is ended.
    """
    update = (
        messages.update()
        .where(which)
        .values(
            status=MessageStatus.FAILED,
            failed_at=now,
            last_error=reason,
            lease_owner=None,
            lease_until=None,
        )
    )
    return _changed_rows(connection, update, statuses, MessageStatus.FAILED, now, parameters)


def _for_update(connection: Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    """``query`` locking its messages on PostgreSQL (SQLite has one writer at a time)."""
    if connection.dialect.name == "postgresql":
        return _locking(query)
    return query


@functools.cache
def _locking(query: sa.Select[Any]) -> sa.Select[Any]:
    return query.with_for_update(of=messages)


def cancel_message(
    connection: Connection, message_id: str, *, account_id: int, now: int
) -> MessageView | None:
    """Withdraw a message that no worker has claimed yet.

    Returns the message as it is afterwards (cancelled, or unchanged when it
    was too late), or None when the account has no such message.
    """
    _changed_rows(
        connection,
        messages.update()
        .where(messages.c.message_id == message_id, messages.c.account_id == account_id)
        .values(status=MessageStatus.CANCELLED, cancelled_at=now),
        _CANCELLABLE,
        MessageStatus.CANCELLED,
        now,
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


def release_claims(
    connection: Connection, *, worker: str, pks: Sequence[int], now: int | None = None
) -> None:
    """Give back claimed messages a stopping worker will not send, for a prompt resend."""
    if not pks:
        return
    _changed_rows(
        connection,
        messages.update()
        .where(messages.c.id.in_(list(pks)), messages.c.lease_owner == worker)
        .values(
            status=MessageStatus.QUEUED,
            lease_owner=None,
            lease_until=None,
            attempts=messages.c.attempts - 1,
        ),
        _SENDING,
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
    _record_changes(
        connection,
        [
            (row.id, row.account_id, MessageStatus.SENDING, now, row.message_id, row.device_id)
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

_BY_PK = messages.c.id == sa.bindparam("pk")
_ENDS_LEASE = {"lease_owner": None, "lease_until": None}

#: What each outcome writes; every one also ends the worker's lease.
_OUTCOME_UPDATES: dict[str, sa.Update] = {
    MessageStatus.SENT: messages.update()
    .where(_BY_PK)
    .values(
        status=sa.bindparam("new_status"),
        sent_at=sa.bindparam("at"),
        provider_message_id=sa.bindparam("provider_id"),
        last_error=None,
        **_ENDS_LEASE,
    ),
    MessageStatus.QUEUED: messages.update()
    .where(_BY_PK)
    .values(
        status=MessageStatus.QUEUED,
        due_at=sa.bindparam("due"),
        last_error=sa.bindparam("error"),
        **_ENDS_LEASE,
    ),
    MessageStatus.FAILED: messages.update()
    .where(_BY_PK)
    .values(
        status=MessageStatus.FAILED,
        failed_at=sa.bindparam("at"),
        last_error=sa.bindparam("error"),
        **_ENDS_LEASE,
    ),
}


def record_outcomes(connection: Connection, outcomes: Sequence[SendOutcome]) -> None:
    """Record send results, each only if its worker still holds the message's lease.

    A worker whose lease ran out (it stalled, another worker took over) must
    not overwrite what the new holder records.
    """
    if not outcomes:
        return
    query = _for_update(connection, _OUTCOME_ROWS)
    pks = [outcome.message_pk for outcome in outcomes]
    held = {row[0]: row for row in connection.execute(query, {"pks": pks})}
    writes: dict[str, list[dict[str, Any]]] = {status: [] for status in _OUTCOME_UPDATES}
    changes: list[_Change] = []
    moves: list[Move] = []
    for outcome in outcomes:
        row = held.get(outcome.message_pk)
        status = _STATUSES.get(outcome.status)
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
            changes.append((pk, account_id, MessageStatus.SENT, values["at"], *made))
            delivered = delivered_at or outcome.at
            changes.append((pk, account_id, MessageStatus.DELIVERED, delivered, *made))
            if status == MessageStatus.READ:
                changes.append((pk, account_id, MessageStatus.READ, read_at or outcome.at, *made))
        else:
            changes.append((pk, account_id, status, outcome.at, message_id, device_id))
    for outcome_status, rows in writes.items():
        if rows:
            connection.execute(_OUTCOME_UPDATES[outcome_status], rows)
    _record_changes(connection, changes)
    count_moves(connection, moves)


_RECEIPT_ROWS = (
    sa.select(
        messages.c.id,
        messages.c.message_id,
        messages.c.device_id,
        messages.c.account_id,
        messages.c.status,
        messages.c.delivered_at,
        messages.c.read_at,
        messages.c.broadcast_id,
    )
    .where(messages.c.message_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(messages.c.id)
)

_WRITE_RECEIPTS = (
    messages.update()
    .where(_BY_PK)
    .values(
        status=sa.bindparam("new_status"),
        delivered_at=sa.bindparam("delivered"),
        read_at=sa.bindparam("read"),
    )
)


def apply_receipts(connection: Connection, receipts: Sequence[Receipt]) -> list[None]:
    """Apply a batch of receipts, each to its device's message of that id, if it has one.

    Receipts only move a message forward and may arrive out of order (see
    `Receipts`); each one that moves a message causes its event.
    """
    wanted = [r for r in receipts if r.status in RECEIPTS]
    if not wanted:
        return [None] * len(receipts)
    query = _for_update(connection, _RECEIPT_ROWS)
    found = connection.execute(query, {"ids": sorted({r.message_id for r in wanted})})
    rows = {(row.message_id, row.device_id): row for row in found}
    stored: dict[int, Receipts] = {}  # as read
    current: dict[int, Receipts] = {}  # as the batch's receipts leave them
    broadcast_of: dict[int, int] = {}
    changes: list[_Change] = []
    for receipt in wanted:
        row = rows.get((receipt.message_id, receipt.device_id))
        if row is None:
            continue
        pk, message_id, device_id, account_id, status, delivered_at, read_at, broadcast_id = row
        if pk not in stored:
            stored[pk] = current[pk] = Receipts(_STATUSES[status], delivered_at, read_at)
            if broadcast_id is not None:
                broadcast_of[pk] = broadcast_id
        before = current[pk]
        after = current[pk] = before.after(receipt.status, receipt.at)
        if after.status != before.status:
            changes.append((pk, account_id, after.status, receipt.at, message_id, device_id))
    writes = [
        {"pk": pk, "new_status": s.status, "delivered": s.delivered_at, "read": s.read_at}
        for pk, s in current.items()
        if s != stored[pk]
    ]
    if writes:
        connection.execute(_WRITE_RECEIPTS, writes)
    _record_changes(connection, changes)
    count_moves(
        connection,
        (
            (broadcast_id, stored[pk].status, current[pk].status)
            for pk, broadcast_id in broadcast_of.items()
            if current[pk].status != stored[pk].status
        ),
    )
    return [None] * len(receipts)


class _StoredReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """A message's ``reply`` column."""

    button: str
    index: int
    at: int
    provider_message_id: str | None = None


_REPLY_ENCODER = msgspec.json.Encoder()
_REPLY_DECODER = msgspec.json.Decoder(_StoredReply)

_PRESSED_ROW = (
    sa.select(
        messages.c.id,
        messages.c.account_id,
        devices.c.public_id,
        messages.c.content,
        messages.c.reply,
        messages.c.status,
        messages.c.delivered_at,
        messages.c.read_at,
        messages.c.broadcast_id,
    )
    .join(devices, devices.c.id == messages.c.device_id)
    .where(
        messages.c.message_id == sa.bindparam("message_id"),
        messages.c.device_id == sa.bindparam("device_id"),
    )
)


def apply_button_press(
    connection: Connection, *, device_id: int, press: ButtonPress
) -> ReplyRecorded | None:
    """Record a pressed button as the message's reply, and the message as read.

    Causes a ``message.reply`` event, and a ``message.status`` one when the
    message was not read yet. Returns the reply, or None when nothing was
    recorded: the device has no button message of that id with that many
    buttons, or the provider delivered this press before.
    """
    query = _for_update(connection, _PRESSED_ROW)
    row = connection.execute(
        query, {"message_id": press.message_id, "device_id": device_id}
    ).first()
    if row is None:
        return None
    content = decode_content(row.content)
    if not isinstance(content, ButtonMessage) or not 1 <= press.index <= len(content.buttons):
        return None
    if (
        press.provider_message_id is not None
        and row.reply is not None
        and _REPLY_DECODER.decode(row.reply).provider_message_id == press.provider_message_id
    ):
        return None
    label = content.buttons[press.index - 1]
    reply = _StoredReply(label, press.index, press.at, press.provider_message_id)
    before = Receipts(_STATUSES[row.status], row.delivered_at, row.read_at)
    read = before.after(MessageStatus.READ, press.at)
    connection.execute(
        messages.update()
        .where(messages.c.id == row.id)
        .values(
            reply=_REPLY_ENCODER.encode(reply).decode(),
            status=read.status,
            delivered_at=read.delivered_at,
            read_at=read.read_at,
        )
    )
    if read.status != before.status:
        change = (row.id, row.account_id, read.status, press.at, press.message_id, device_id)
        _record_changes(connection, [change])
        if row.broadcast_id is not None:
            count_moves(connection, [(row.broadcast_id, before.status, read.status)])
    replied = MessageReplyEvent(
        device=row.public_id,
        message_id=press.message_id,
        sender=press.sender,
        button_index=press.index,
        button_label=label,
        text=label,
        at=press.at,
    )
    record_events(connection, [NewEvent(row.account_id, device_id, replied)])
    return ReplyRecorded(press.message_id, press.index, label)


def _fails_removed(which: sa.ColumnElement[bool], now: int) -> sa.Update:
    return (
        messages.update()
        .where(which)
        .values(
            status=MessageStatus.FAILED,
            failed_at=now,
            last_error=DEVICE_REMOVED,
            lease_owner=None,
            lease_until=None,
        )
    )


def fail_messages_of_removed_device(connection: Connection, *, device_id: int, now: int) -> None:
    """Fail what a device being removed will never send.

    Its waiting messages, and those left ``sending`` by a worker that died:
    nobody claims them for a removed device. A worker sending for it now
    fails what it holds when it learns of the removal (see `accounts`).
    """
    # A status at a time, each reads one range of the queue's index.
    waiting = _fails_removed(messages.c.device_id == device_id, now)
    _changed_rows(connection, waiting, _CLAIMABLE, MessageStatus.FAILED, now)
    abandoned = _fails_removed(
        sa.and_(messages.c.device_id == device_id, messages.c.lease_until < now), now
    )
    _changed_rows(connection, abandoned, _SENDING, MessageStatus.FAILED, now)


def fail_abandoned_messages_of_removed_devices(connection: Connection, *, now: int) -> None:
    """Fail what a worker that died left ``sending`` for a since removed device.

    Nobody claims a removed device's messages, so once the lease is over
    they would stay ``sending`` for ever.
    """
    removed = list(
        connection.execute(
            sa.select(devices.c.id).where(devices.c.removed_at.is_not(None))
        ).scalars()
    )
    if not removed:
        return
    abandoned = sa.and_(messages.c.device_id.in_(removed), messages.c.lease_until < now)
    _changed_rows(connection, _fails_removed(abandoned, now), _SENDING, MessageStatus.FAILED, now)


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


#: A provider's failure report moves only messages it may have been about: tried
#: a status at a time (the one it left is counted), the likelier first.
_FAILABLE = (MessageStatus.SENT.value, MessageStatus.SENDING.value)

_FAIL_REPORTED = (
    messages.update()
    .where(
        messages.c.message_id == sa.bindparam("mid"),
        messages.c.device_id == sa.bindparam("dev"),
        messages.c.status == sa.bindparam("was"),
    )
    .values(
        status=MessageStatus.FAILED,
        failed_at=sa.bindparam("at"),
        last_error=sa.bindparam("reason"),
        # A worker still sending it records nothing over this (its lease is gone).
        lease_owner=None,
        lease_until=None,
    )
    .returning(
        messages.c.account_id,
        messages.c.device_id,
        messages.c.message_id,
        messages.c.broadcast_id,
    )
)


def fail_reported_messages(
    connection: Connection, failures: Sequence[ProviderFailure]
) -> list[None]:
    """Fail each reported message that was sending or sent; record the status events."""
    changed = []
    moves: list[Move] = []
    for failure in failures:
        for was in _FAILABLE:
            row = connection.execute(
                _FAIL_REPORTED,
                {
                    "mid": failure.message_id,
                    "dev": failure.device_id,
                    "at": failure.at,
                    "reason": failure.reason,
                    "was": was,
                },
            ).first()
            if row is not None:
                changed.append((row, failure.at))
                if row.broadcast_id is not None:
                    moves.append((row.broadcast_id, was, MessageStatus.FAILED.value))
                break
    count_moves(connection, moves)
    if changed:
        public_ids = {
            row.id: row.public_id
            for row in connection.execute(
                sa.select(devices.c.id, devices.c.public_id).where(
                    devices.c.id.in_({row.device_id for row, _ in changed})
                )
            )
        }
        record_events(
            connection,
            [
                NewEvent(
                    row.account_id,
                    row.device_id,
                    MessageStatusEvent(
                        device=public_ids[row.device_id],
                        message_id=row.message_id,
                        status=MessageStatus.FAILED,
                        at=at,
                    ),
                )
                for row, at in changed
            ],
        )
    return [None] * len(failures)
