"""The loop shape the message dispatcher and the webhook deliverer share.

Each works in passes: claim what is due, start it, and say how long it may
sleep. Between passes it sleeps until then or until woken by news (a commit
of new work, a NOTIFY, a finished send), never polling. The wake flag is
cleared before a pass, so news that arrives during one makes another.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kurir.clock import now_ms

# After a failed pass (the database away, say): soon, but not in a tight loop.
_AFTER_FAILURE_S = 1.0


class PassLoop:
    """Runs passes until stopped, sleeping between them until woken or their time comes."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._wake = asyncio.Event()
        self._stopping = False

    async def run(self, one_pass: Callable[[], Awaitable[float | None]]) -> None:
        """Run ``one_pass`` until `stop`; it returns seconds to sleep (None: until woken)."""
        while not self._stopping:
            # Cleared before the pass: a wake during it means another pass.
            self._wake.clear()
            wait_s: float | None
            try:
                wait_s = await one_pass()
            except Exception:  # a database hiccup must not end the worker
                self._log.exception("%s failed; retrying shortly", self._what)
                wait_s = _AFTER_FAILURE_S
            if wait_s is None or wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait_s)

    def wake(self) -> None:
        """Make a pass now, or as soon as the one under way ends."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


def sleep_seconds(wake_at: int | None, max_idle_s: float | None) -> float | None:
    """Seconds from now until ``wake_at`` (ms; None: no time), at most ``max_idle_s``.

    ``max_idle_s`` is for a worker that nothing tells of new work (a lone
    worker on SQLite, which has no LISTEN/NOTIFY): it looks that often.
    """
    wait_s = None if wake_at is None else max(0.0, (wake_at - now_ms()) / 1000)
    if max_idle_s is not None:
        wait_s = max_idle_s if wait_s is None else min(wait_s, max_idle_s)
    return wait_s
