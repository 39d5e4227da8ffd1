"""Status and due-time changes of a broadcast's messages made for the broadcast's sake.

Claims, outcomes and receipts of these messages go through the rest of
`kurir.store.lifecycle` like any message's. What is here is what only a
broadcast does to them: planning (a due time instead of `HELD_DUE_AT`),
holding again on pause, and failing what waits when the broadcast is
cancelled or its recipient opts out. Each change applies only to messages no
worker is sending, and only moves them forward, as lifecycle's do.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.broadcast import HELD_DUE_AT, BroadcastState
from kurir.domain.status import MessageStatus
from kurir.store.lifecycle.withdrawing import fail_messages_where
from kurir.store.tables import broadcasts, messages, opt_outs

_WAITING = [str(MessageStatus.SCHEDULED), str(MessageStatus.QUEUED)]
_IN = messages.c.broadcast_id == sa.bindparam("in_broadcast")


def held(connection: Connection, broadcast_id: int, *, limit: int) -> list[tuple[int, bool]]:
    """The next messages to plan, ``(pk, opted out)``, in the order they were given.

    Retries a pause held come first (queued: they are few); then the
    scheduled ones, read from the head of their range of the broadcast's
    index. Whether each recipient opted out of the account's broadcasts is
    looked up with it, by the opt-outs' key: asked as a list of a batch's
    phones, the statement cost the planner more than the plan.
    """
    found: list[tuple[int, bool]] = []
    for status in (MessageStatus.QUEUED, MessageStatus.SCHEDULED):
        if len(found) >= limit:
            break
        rows = connection.execute(
            _HELD, {"in_broadcast": broadcast_id, "status": status, "limit": limit - len(found)}
        )
        found.extend((row.id, row.stopped) for row in rows)
    return found


_HELD = (
    sa.select(messages.c.id, opt_outs.c.phone.is_not(None).label("stopped"))
    .select_from(
        messages.outerjoin(
            opt_outs,
            sa.and_(
                opt_outs.c.account_id == messages.c.account_id,
                opt_outs.c.phone == messages.c.recipient,
            ),
        )
    )
    .where(_IN, messages.c.status == sa.bindparam("status"), messages.c.due_at == HELD_DUE_AT)
    .order_by(messages.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


# Equalities, not IN: an IN list is expanded per execution, which would make
# the executemany a statement per row.
_PLAN = (
    messages.update()
    .where(
        messages.c.id == sa.bindparam("pk"),
        messages.c.due_at == HELD_DUE_AT,
        sa.or_(*(messages.c.status == status for status in _WAITING)),
    )
    .values(due_at=sa.bindparam("due"))
)


def plan(connection: Connection, due_times: Sequence[tuple[int, int]]) -> None:
    """Give held messages their due times: ``(pk, due_at)`` each."""
    if due_times:
        connection.execute(_PLAN, [{"pk": pk, "due": due} for pk, due in due_times])


def hold(connection: Connection, broadcast_id: int) -> int:
    """Take back the plan of every waiting message: at most the last planned batch."""
    result = connection.execute(
        messages.update()
        .where(
            _IN,
            messages.c.status.in_(_WAITING),
            messages.c.due_at < HELD_DUE_AT,
        )
        .values(due_at=HELD_DUE_AT),
        {"in_broadcast": broadcast_id},
    )
    return int(result.rowcount)


def fail_waiting(
    connection: Connection, broadcast_id: int, *, reason: str, now: int, limit: int
) -> int:
    """Fail up to ``limit`` messages no worker is sending; how many were failed.

    Messages left ``sending`` by a worker that died (their lease ran out) fail
    too: nobody would send them but a worker taking them back.
    """
    waiting = sa.select(messages.c.id).where(_IN, messages.c.status.in_(_WAITING)).limit(limit)
    abandoned = (
        sa.select(messages.c.id)
        .where(
            _IN,
            messages.c.status == MessageStatus.SENDING,
            messages.c.lease_until < sa.bindparam("now"),
        )
        .limit(limit)
    )
    failed = 0
    for chosen, status in ((waiting, _WAITING), (abandoned, [str(MessageStatus.SENDING)])):
        ids = list(connection.execute(chosen, {"in_broadcast": broadcast_id, "now": now}).scalars())
        if not ids:
            continue
        failed += fail_messages_where(
            connection, messages.c.id.in_(ids), statuses=status, reason=reason, now=now
        )
    return failed


def fail_messages(connection: Connection, pks: Sequence[int], *, reason: str, now: int) -> None:
    """Fail these waiting messages (held ones of recipients who opted out)."""
    if pks:
        fail_messages_where(
            connection, messages.c.id.in_(list(pks)), statuses=_WAITING, reason=reason, now=now
        )


def fail_planned_to(
    connection: Connection, *, account_id: int, recipient: str, reason: str, now: int
) -> int:
    """Fail the planned, waiting messages of the account's broadcasts to ``recipient``.

    Those not yet planned fail when the planner reaches them; the planned
    ones are one batch per broadcast, read from each one's index.
    """
    mine = sa.select(broadcasts.c.id).where(
        broadcasts.c.account_id == account_id, broadcasts.c.state == BroadcastState.ACTIVE
    )
    return fail_messages_where(
        connection,
        sa.and_(
            messages.c.broadcast_id.in_(mine),
            messages.c.due_at < HELD_DUE_AT,
            messages.c.recipient == recipient,
        ),
        statuses=_WAITING,
        reason=reason,
        now=now,
    )
