"""Device leases: which worker sends for which device, shared fairly across workers.

A device is sent for by one worker at a time; that is what keeps its pacing
and its order across a cluster. Each worker renews its leases (and its
heartbeat) every third of the lease time. The live workers split the devices
evenly: a worker takes free or expired devices up to its share and hands back
idle ones beyond it, so a new worker gets devices and a dead worker's devices
are taken over as soon as its leases run out, or at once when it ran on the
same host and its process is gone.
"""

import math
from collections.abc import Callable, Collection

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store import deliveries, lifecycle
from kurir.store.accounts import DEVICE_COLUMNS, device_from_row
from kurir.store.postgres import notify_new_messages
from kurir.store.records import Device, WorkerProcess
from kurir.store.tables import devices, workers


class DeviceLeases(msgspec.Struct, frozen=True):
    """What a worker holds after renewing."""

    #: The devices it owns, with the earliest time each may send next.
    owned: list[tuple[Device, int]]
    #: When the next lease held by another worker runs out (a takeover chance).
    next_foreign_expiry: int | None
    #: Every device in service, owned by whomever: news of another is news of a new device.
    active: frozenset[int]
    #: How many devices this worker should hold; beyond it, it drains and hands back.
    share: int
    #: Workers of this host found dead, whose leases were taken back.
    dead_neighbours: list[str]


def renew_device_leases(
    connection: Connection,
    *,
    worker: str,
    now: int,
    lease_ms: int,
    releasable: Collection[int],
    process: WorkerProcess | None,
    has_ended: Callable[[WorkerProcess], bool],
) -> DeviceLeases:
    """Heartbeat, renew this worker's leases, then take or give back to reach its share.

    ``releasable`` are owned devices with nothing in flight, the only ones
    that may be handed to another worker without risking two senders.
    ``process`` is this worker's (None where it cannot be known: then dead
    workers are known by their leases only), and ``has_ended`` tells whether
    another process of its host has ended.
    """
    _heartbeat(connection, worker=worker, now=now, lease_ms=lease_ms, process=process)
    dead: list[str] = []
    if process is not None:
        dead = _take_back_from_dead_neighbours(
            connection, worker=worker, process=process, has_ended=has_ended, now=now
        )
    lifecycle.fail_abandoned_messages_of_removed_devices(connection, now=now)
    live_workers = (
        connection.execute(
            sa.select(sa.func.count()).where(workers.c.heartbeat_at >= now - lease_ms)
        )
    ).scalar_one()
    active = sa.and_(devices.c.removed_at.is_(None))
    active_ids = frozenset((connection.execute(sa.select(devices.c.id).where(active))).scalars())
    share = math.ceil(len(active_ids) / max(1, live_workers))

    renewed = connection.execute(
        devices.update()
        .where(active, devices.c.lease_owner == worker)
        .values(lease_until=now + lease_ms)
        .returning(devices.c.id)
    )
    mine = list(renewed.scalars())
    # Whether the other workers should renew now rather than at their own time.
    others_should_renew = False
    if len(mine) < share:
        taken = _take_free_devices(
            connection, worker=worker, now=now, lease_ms=lease_ms, count=share - len(mine)
        )
        others_should_renew = len(mine) + taken < share and _someone_holds_more_than(
            connection, share, now=now
        )
    elif len(mine) > share:
        surplus = sorted(set(mine) & set(releasable))[: len(mine) - share]
        release_device_leases(connection, worker=worker, device_ids=surplus)
        others_should_renew = bool(surplus)  # devices are free for whoever is short
    if others_should_renew and connection.dialect.name == "postgresql":
        # Naming no device makes every worker renew (see on_new_messages).
        notify_new_messages(connection, ())

    rows = connection.execute(
        sa.select(*DEVICE_COLUMNS, devices.c.next_send_at)
        .where(active, devices.c.lease_owner == worker)
        .order_by(devices.c.id)
    )
    owned = [(device_from_row(row), int(row.next_send_at)) for row in rows]
    expiry = (
        connection.execute(
            sa.select(sa.func.min(devices.c.lease_until)).where(
                active, devices.c.lease_owner != worker
            )
        )
    ).scalar()
    return DeviceLeases(owned, int(expiry) if expiry is not None else None, active_ids, share, dead)


def _heartbeat(
    connection: Connection, *, worker: str, now: int, lease_ms: int, process: WorkerProcess | None
) -> None:
    updated = connection.execute(
        workers.update().where(workers.c.id == worker).values(heartbeat_at=now)
    )
    if updated.rowcount == 0:
        connection.execute(
            workers.insert().values(
                id=worker,
                started_at=now,
                heartbeat_at=now,
                host=process.host if process else None,
                pid=process.pid if process else None,
                process_started=process.started if process else None,
            )
        )
    # Rows of workers long dead only clutter the table.
    connection.execute(workers.delete().where(workers.c.heartbeat_at < now - 4 * lease_ms))


def _take_back_from_dead_neighbours(
    connection: Connection,
    *,
    worker: str,
    process: WorkerProcess,
    has_ended: Callable[[WorkerProcess], bool],
    now: int,
) -> list[str]:
    """End the leases of this host's workers whose process is gone; their ids.

    Their claimed messages and webhook deliveries become claimable (under
    an expired lease, as if it had run out) and their devices free, so all
    go out again now rather than after the leases' time. Workers of other hosts
    are left to their heartbeat and leases: from here a dead one cannot be
    told from a stalled one.
    """
    rows = connection.execute(
        sa.select(workers.c.id, workers.c.pid, workers.c.process_started).where(
            workers.c.host == process.host, workers.c.id != worker
        )
    )
    dead = [
        row.id
        for row in rows
        if has_ended(WorkerProcess(process.host, row.pid, row.process_started))
    ]
    if not dead:
        return []
    # A worker claims only for devices it holds, so its messages are found by
    # device (the index claims use); on removed devices too, to be failed next.
    held = connection.execute(
        sa.select(devices.c.id).where(
            sa.or_(devices.c.lease_owner.in_(dead), devices.c.removed_at.is_not(None))
        )
    )
    lifecycle.expire_claims(connection, workers=dead, device_ids=list(held.scalars()), now=now)
    # A webhook deliverer shares its process's worker id (kurir.dispatch.webhook_deliverer).
    deliveries.take_back_claims(connection, workers=dead, now=now)
    connection.execute(
        devices.update()
        .where(devices.c.lease_owner.in_(dead))
        .values(lease_owner=None, lease_until=None)
    )
    connection.execute(workers.delete().where(workers.c.id.in_(dead)))
    return dead


def _someone_holds_more_than(connection: Connection, share: int, *, now: int) -> bool:
    """Whether a worker holds more devices than ``share`` (it will hand some back)."""
    per_owner = (
        sa.select(sa.func.count().label("held"))
        .where(devices.c.removed_at.is_(None), devices.c.lease_until >= now)
        .group_by(devices.c.lease_owner)
        .subquery()
    )
    most = connection.execute(sa.select(sa.func.max(per_owner.c.held))).scalar()
    return most is not None and int(most) > share


def _take_free_devices(
    connection: Connection, *, worker: str, now: int, lease_ms: int, count: int
) -> int:
    free = sa.and_(
        devices.c.removed_at.is_(None),
        sa.or_(devices.c.lease_owner.is_(None), devices.c.lease_until < now),
    )
    candidates = sa.select(devices.c.id).where(free).order_by(devices.c.id).limit(count)
    if connection.dialect.name == "postgresql":
        # Two workers taking at once each skip the rows the other is taking.
        # NO KEY UPDATE: every accept holds KEY SHARE on its devices (the
        # messages' foreign key), which FOR UPDATE would take for "locked":
        # under a steady stream of sends no device would ever be free.
        candidates = candidates.with_for_update(skip_locked=True, key_share=True)
    taken = connection.execute(
        devices.update()
        .where(devices.c.id.in_(candidates.scalar_subquery()), free)
        .values(lease_owner=worker, lease_until=now + lease_ms)
    )
    return int(taken.rowcount)


def release_device_leases(
    connection: Connection, *, worker: str, device_ids: Collection[int] | None = None
) -> None:
    """Hand devices back (all of the worker's when ``device_ids`` is None)."""
    condition = devices.c.lease_owner == worker
    if device_ids is not None:
        if not device_ids:
            return
        condition = sa.and_(condition, devices.c.id.in_(list(device_ids)))
    connection.execute(devices.update().where(condition).values(lease_owner=None, lease_until=None))


def retire_worker(connection: Connection, *, worker: str) -> None:
    """A stopping worker hands back its devices and leaves the share count at once."""
    release_device_leases(connection, worker=worker)
    connection.execute(workers.delete().where(workers.c.id == worker))


def save_next_send_times(
    connection: Connection, *, worker: str, next_send_at: dict[int, int]
) -> None:
    """Persist pacing, so a worker that takes a device over keeps the interval."""
    if not next_send_at:
        return
    connection.execute(
        devices.update()
        .where(devices.c.id == sa.bindparam("pk"), devices.c.lease_owner == worker)
        .values(next_send_at=sa.bindparam("next_at")),
        [{"pk": pk, "next_at": at} for pk, at in next_send_at.items()],
    )
