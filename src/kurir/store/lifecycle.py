"""A message's life after acceptance: claims, outcomes, receipts, replies and cancelling.

Every change of an accepted message's status goes through this module (and
the device-wide ones in `accounts.remove_device` and `leases`, which fail or
free a device's messages in bulk), so each change is made in one place and
only ever forward.
"""

import functools
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import decode_content
from kurir.domain.status import (
    CANCELLABLE,
    CLAIMABLE,
    RECEIPT_ORDER,
    MessageStatus,
)
from kurir.store.reading import get_message
from kurir.store.records import (
    ButtonPress,
    ClaimedMessage,
    MessageView,
    Receipt,
    SendOutcome,
)
from kurir.store.tables import devices, messages

_CLAIMABLE = [str(s) for s in CLAIMABLE]


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


def _receipt_rank(status: Any) -> sa.Case[Any]:
    """A status's place in the order of receipts (0 for any other status)."""
    return sa.case(
        {str(status): rank for rank, status in enumerate(RECEIPT_ORDER, start=1)},
        value=status,
        else_=0,
    )


_receipt_status = sa.bindparam("receipt_status", type_=sa.String)
_receipt_at = sa.bindparam("receipt_at", type_=sa.BigInteger)

# Written out as equalities: an IN list is expanded per execution, which
# turns an executemany into one statement per row.
_TAKES_RECEIPTS = sa.or_(
    *(messages.c.status == str(status) for status in (MessageStatus.SENDING, *RECEIPT_ORDER))
)

#: One receipt on a device's message, set-based so a batch is one executemany.
#: Receipts only move a message forward and may arrive out of order: a read
#: receipt also fills in a missing delivery time, and a receipt that beats the
#: worker's own "sent" record is kept as a time for that record to use. The
#: status is tested in the values, not the WHERE: there the planners would
#: read the status-first queue index, a range as long as the device's history,
#: instead of the message id's.
_APPLY_RECEIPT = (
    messages.update()
    .where(
        messages.c.message_id == sa.bindparam("mid"),
        messages.c.device_id == sa.bindparam("dev"),
        # Only a delivery or a read is a receipt (a provider's "sent" is the send's outcome).
        sa.or_(
            _receipt_status == str(MessageStatus.DELIVERED),
            _receipt_status == str(MessageStatus.READ),
        ),
    )
    .values(
        delivered_at=sa.case(
            (_TAKES_RECEIPTS, sa.func.coalesce(messages.c.delivered_at, _receipt_at)),
            else_=messages.c.delivered_at,
        ),
        read_at=sa.case(
            (
                sa.and_(_TAKES_RECEIPTS, _receipt_status == str(MessageStatus.READ)),
                sa.func.coalesce(messages.c.read_at, _receipt_at),
            ),
            else_=messages.c.read_at,
        ),
        status=sa.case(
            (
                _receipt_rank(messages.c.status).between(1, _receipt_rank(_receipt_status) - 1),
                _receipt_status,
            ),
            else_=messages.c.status,
        ),
    )
)


def apply_receipts(connection: Connection, receipts: Sequence[Receipt]) -> list[None]:
    """Apply a batch of receipts, each to its device's message of that id, if it has one."""
    connection.execute(
        _APPLY_RECEIPT,
        [
            {
                "mid": r.message_id,
                "dev": r.device_id,
                "receipt_status": r.status,
                "receipt_at": r.at,
            }
            for r in receipts
        ],
    )
    return [None] * len(receipts)


def apply_button_press(connection: Connection, *, device_id: int, press: ButtonPress) -> str | None:
    """Record a pressed button as the message's reply, and the message as read.

    Returns the pressed button's label, or None when the device has no button
    message of that id with that many buttons.
    """
    mine = sa.and_(messages.c.message_id == press.message_id, messages.c.device_id == device_id)
    row = connection.execute(sa.select(messages.c.content).where(mine)).first()
    if row is None:
        return None
    content = decode_content(row.content)
    if not isinstance(content, ButtonMessage) or not 1 <= press.index <= len(content.buttons):
        return None
    label = content.buttons[press.index - 1]
    reply = msgspec.json.encode({"button": label, "index": press.index, "at": press.at}).decode()
    connection.execute(messages.update().where(mine).values(reply=reply))
    apply_receipts(
        connection,
        [
            Receipt(
                device_id=device_id,
                message_id=press.message_id,
                status=MessageStatus.READ,
                at=press.at,
            )
        ],
    )
    return label
