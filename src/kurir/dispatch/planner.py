"""The broadcast planner's loop: extends broadcasts' plans as their messages are used up.

Every dispatching process runs one beside its dispatcher. It looks (a read)
when any broadcast needs planning, plans in a write transaction when one
does, and wakes the dispatcher for the devices that got messages. On
PostgreSQL the planning also notifies the other workers, and planners of a
cluster skip a broadcast another one is planning.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import tzinfo

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.store import Store, planning
from kurir.store.tables import broadcasts

log = logging.getLogger("kurir.dispatch")

#: How often the planner looks for broadcasts created or resumed elsewhere.
IDLE_S = 1.0


def _next_plan_at(connection: Connection) -> int | None:
    found = connection.execute(sa.select(sa.func.min(broadcasts.c.plan_at))).scalar()
    return int(found) if found is not None else None


class BroadcastPlanner:
    """Plans the broadcasts that are due, until `stop` is called."""

    def __init__(
        self,
        store: Store,
        zone: tzinfo,
        on_planned: Callable[[set[int]], None],
        *,
        idle_s: float = IDLE_S,
    ) -> None:
        self._store = store
        self._zone = zone
        self._on_planned = on_planned
        self._idle_s = idle_s
        self._rng = random.Random()
        self._wake = asyncio.Event()
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                wait_s = await self._plan_once()
            except Exception:  # a database hiccup must not end the planner
                log.exception("broadcast planning failed; retrying shortly")
                wait_s = self._idle_s
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait_s)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _plan_once(self) -> float:
        """Plan what is due; the seconds until something may be due again."""
        now = now_ms()
        due = await self._store.read(_next_plan_at)
        if due is None or due > now:
            return self._idle_wait(due, now)
        done = await self._store.write(
            planning.plan_due_broadcasts, now=now, zone=self._zone, rng=self._rng
        )
        if done.devices:
            self._on_planned(set(done.devices))
        return self._idle_wait(done.next_plan_at, now_ms())

    def _idle_wait(self, due: int | None, now: int) -> float:
        if due is None:
            return self._idle_s
        return min(self._idle_s, max(0.0, (due - now) / 1000))
