"""Pairing, disconnect and number-check requests reach the worker through the database.

One task per worker process reads the request counters of all its open
WhatsApp Web devices, and when their latest number checks were asked for,
twice a second, and wakes the device whose requests moved, so an API process
anywhere in a cluster can start a pairing without knowing which worker holds
the device.
"""

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import ClassVar

from kurir.store import Store
from kurir.transports.whatsapp_web import store as db

log = logging.getLogger("kurir.whatsapp_web")

POLL_EVERY_S = 0.5


class RequestWatcher:
    """Watches the devices of one store; runs while it has any."""

    _by_store: ClassVar["weakref.WeakKeyDictionary[Store, RequestWatcher]"] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, store: Store) -> None:
        self._store = store
        self._wakers: dict[int, Callable[[], None]] = {}
        self._seen: dict[int, tuple[int, int, int | None]] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, store: Store) -> "RequestWatcher":
        found = cls._by_store.get(store)
        if found is None:
            found = cls._by_store[store] = cls(store)
        return found

    def add(self, device_id: int, wake: Callable[[], None]) -> None:
        self._wakers[device_id] = wake
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="whatsapp-web-requests")

    def remove(self, device_id: int) -> None:
        self._wakers.pop(device_id, None)
        self._seen.pop(device_id, None)

    async def _run(self) -> None:
        while self._wakers:
            try:
                rows, checks = await self._store.read(db.requests_of, list(self._wakers))
            except Exception:  # a database hiccup: the next round tries again
                log.exception("reading WhatsApp Web requests failed")
                rows, checks = [], {}
            for row in rows:
                seen = (row.pair_seq, row.disconnect_seq, checks.get(row.device_id))
                before = self._seen.get(row.device_id)
                self._seen[row.device_id] = seen
                if before is None:
                    news = row.pairing_requested or row.disconnect_requested or seen[2] is not None
                else:
                    # A check answered (its time gone back to None) is no news.
                    news = seen[:2] != before[:2] or seen[2] not in (None, before[2])
                wake = self._wakers.get(row.device_id)
                if news and wake is not None:
                    wake()
            await asyncio.sleep(POLL_EVERY_S)
