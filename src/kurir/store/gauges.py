"""What the metrics show as it is now: the queue's depth, the devices' states, the workers.

Read when ``/metrics`` is scraped (and cached there for a moment), never on
a request's path. The queue is counted on its own index, led by status, so
a count reads index entries of the waiting statuses only, not the history.
"""

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.status import MessageStatus
from kurir.store.tables import devices, messages, workers

#: The statuses of messages still waiting to go out: the queue.
WAITING = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.SENDING)


class Gauges(msgspec.Struct, frozen=True, kw_only=True):
    queue_depth: dict[str, int]
    #: Devices in service by state: ``idle`` when no worker holds one, else the
    #: first word of what its transport last reported (``error: …`` is ``error``).
    device_states: dict[str, int]
    live_workers: int


def state_label(state: str | None, *, held: bool) -> str:
    """A device's state as a label: few values, and no error text (it may name anything)."""
    if not held:
        return "idle"
    if not state:  # held, and nothing reported: as GET /device/list shows it
        return "connected"
    return state.split(":", 1)[0].strip().lower()[:32] or "connected"


def read_gauges(connection: Connection, *, now: int, worker_lease_ms: int) -> Gauges:
    # A count per status: each reads one range of the queue's index.
    depth = {
        str(status): connection.execute(
            sa.select(sa.func.count()).where(messages.c.status == str(status))
        ).scalar_one()
        for status in WAITING
    }
    states: dict[str, int] = {}
    held = sa.and_(devices.c.lease_owner.is_not(None), devices.c.lease_until >= now)
    rows = connection.execute(
        sa.select(devices.c.state, held.label("held"), sa.func.count().label("devices"))
        .where(devices.c.removed_at.is_(None))
        .group_by(devices.c.state, held)
    )
    for row in rows:
        label = state_label(row.state, held=bool(row.held))
        states[label] = states.get(label, 0) + int(row.devices)
    live = connection.execute(
        sa.select(sa.func.count()).where(workers.c.heartbeat_at >= now - worker_lease_ms)
    ).scalar_one()
    return Gauges(queue_depth=depth, device_states=states, live_workers=int(live))
