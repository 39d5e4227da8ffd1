"""Planning broadcasts: due times given to their messages a batch at a time.

A broadcast's messages are stored held (`HELD_DUE_AT`); the planner gives
the next ones their due times from the broadcast's pace, up to
`LOOKAHEAD_MS` ahead, and comes back when half of that is used. So a pause
takes back at most one batch's plan, a resume plans again from now, and a
worker that was down for a while does not find hours of overdue messages to
send at once. The plan lives in the broadcast's row (the due time of the
last planned message, and when to plan next), so any worker of a cluster may
extend it, and a restart loses nothing.
"""

import random
from datetime import tzinfo
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.broadcast import (
    BROADCAST_CANCELLED,
    RECIPIENT_OPTED_OUT,
    BroadcastState,
    DailyWindow,
    Pace,
    plan_times,
)
from kurir.store.lifecycle import broadcasting
from kurir.store.postgres import notify_new_messages
from kurir.store.tables import broadcasts

#: How far ahead messages are planned; a pause takes back at most this much.
LOOKAHEAD_MS = 60_000
#: The most messages planned (or failed, for a cancelled broadcast) in one go.
MAX_BATCH = 1000
#: Broadcasts looked at in one pass of the planner.
_PASS_BROADCASTS = 50


class Planned(msgspec.Struct, frozen=True):
    """What planning one broadcast did."""

    device_id: int
    #: Messages given a due time, failed (opted out, or cancelled), or 0.
    count: int


class PlannerPass(msgspec.Struct, frozen=True):
    #: Devices with newly planned messages, to wake their workers.
    devices: frozenset[int]
    #: When a broadcast next needs planning; None when none does.
    next_plan_at: int | None


_PLAN_COLUMNS = (
    broadcasts.c.id,
    broadcasts.c.account_id,
    broadcasts.c.device_id,
    broadcasts.c.state,
    broadcasts.c.starts_at,
    broadcasts.c.window_start,
    broadcasts.c.window_end,
    broadcasts.c.interval_from_ms,
    broadcasts.c.interval_to_ms,
    broadcasts.c.planned_until,
)


def _locked(connection: Connection, broadcast_id: int) -> Any:
    query = sa.select(*_PLAN_COLUMNS).where(broadcasts.c.id == broadcast_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _set_plan(
    connection: Connection, broadcast_id: int, *, plan_at: int | None, planned_until: int | None
) -> None:
    connection.execute(
        broadcasts.update()
        .where(broadcasts.c.id == broadcast_id)
        .values(plan_at=plan_at, planned_until=planned_until)
    )


def plan_broadcast(
    connection: Connection,
    broadcast_id: int,
    *,
    now: int,
    zone: tzinfo,
    rng: random.Random,
    budget: int = MAX_BATCH,
) -> Planned | None:
    """Plan the broadcast's next batch, if it is due; None when there is no such broadcast.

    At least one message is planned when any is held, however far ahead its
    time is, so that the broadcast shows when it next sends. A cancelled
    broadcast's remaining messages are failed here, a batch at a time.
    """
    row = _locked(connection, broadcast_id)
    if row is None:
        return None
    if row.state == BroadcastState.CANCELLED:
        failed = broadcasting.fail_waiting(
            connection, broadcast_id, reason=BROADCAST_CANCELLED, now=now, limit=budget
        )
        if failed < budget:
            _set_plan(connection, broadcast_id, plan_at=None, planned_until=None)
        return Planned(row.device_id, failed)
    if row.state != BroadcastState.ACTIVE:
        _set_plan(connection, broadcast_id, plan_at=None, planned_until=None)
        return Planned(row.device_id, 0)
    horizon = now + LOOKAHEAD_MS
    cursor: int | None = row.planned_until
    if cursor is not None and cursor > horizon:
        later = cursor - LOOKAHEAD_MS // 2
        _set_plan(connection, broadcast_id, plan_at=later, planned_until=cursor)
        return Planned(row.device_id, 0)

    batch = broadcasting.held(connection, broadcast_id, limit=budget)
    broadcasting.fail_messages(
        connection,
        [pk for pk, stopped in batch if stopped],
        reason=RECIPIENT_OPTED_OUT,
        now=now,
    )
    waiting = [pk for pk, stopped in batch if not stopped]
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = DailyWindow(row.window_start, row.window_end)
    pace = Pace(
        interval_from_ms=row.interval_from_ms, interval_to_ms=row.interval_to_ms, window=window
    )
    times = plan_times(
        earliest=max(now, row.starts_at),
        after=cursor,
        count=len(waiting),
        pace=pace,
        zone=zone,
        rng=rng,
    )
    # Times only grow: the ones within the horizon are a prefix, and the
    # first is kept wherever it falls.
    kept = times[:1] + [at for at in times[1:] if at <= horizon]
    broadcasting.plan(connection, list(zip(waiting, kept, strict=False)))
    if kept:
        cursor = kept[-1]
    plan_at: int | None
    if len(batch) < budget and len(kept) == len(waiting):
        plan_at = None  # everything is planned
    elif len(kept) == len(waiting):
        plan_at = now  # the batch was full: more at once
    else:
        assert cursor is not None  # something was kept: the first always is
        plan_at = max(now, cursor - LOOKAHEAD_MS // 2)
    _set_plan(connection, broadcast_id, plan_at=plan_at, planned_until=cursor)
    return Planned(row.device_id, len(batch))


def plan_due_broadcasts(
    connection: Connection,
    *,
    now: int,
    zone: tzinfo,
    rng: random.Random,
    budget: int = 2 * MAX_BATCH,
) -> PlannerPass:
    """One pass of the planner: extend the plans that are due, within ``budget`` messages.

    On PostgreSQL a broadcast another worker is planning is skipped (its
    row is locked), so workers of a cluster share the planning.
    """
    due = (
        sa.select(broadcasts.c.id)
        .where(broadcasts.c.plan_at <= now)
        .order_by(broadcasts.c.plan_at)
        .limit(_PASS_BROADCASTS)
    )
    if connection.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    devices: set[int] = set()
    for broadcast_id in list(connection.execute(due).scalars()):
        if budget <= 0:
            break
        planned = plan_broadcast(
            connection, broadcast_id, now=now, zone=zone, rng=rng, budget=min(MAX_BATCH, budget)
        )
        if planned is not None and planned.count:
            devices.add(planned.device_id)
            budget -= planned.count
    if devices and connection.dialect.name == "postgresql":
        notify_new_messages(connection, devices)
    next_plan_at = connection.execute(sa.select(sa.func.min(broadcasts.c.plan_at))).scalar()
    return PlannerPass(frozenset(devices), next_plan_at)
