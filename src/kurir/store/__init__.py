"""Persistence: the schema, its queries, migrations and the group-commit writers.

`Store` is the one object the rest of Kurir holds. Reads run on the read pool,
single writes on the write pool, and the high-rate writes (accepted messages,
send outcomes, receipts, and whatever a transport records at the rate it
sends) go through group committers.
"""

from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection

from kurir.store import accepting, leases, lifecycle
from kurir.store.database import DATABASE_ERRORS, Database, DatabaseURLError
from kurir.store.deliveries import DEADLINE_OPTION, DEFAULT_DEADLINE_MS, DELIVERIES_DUE
from kurir.store.group_commit import FlushBatch, GroupCommitter, Overloaded
from kurir.store.records import (
    Accepted,
    DeviceRemoved,
    IdempotencyMismatch,
    NewMessage,
    Receipt,
    SendOutcome,
)

__all__ = ["DATABASE_ERRORS", "DatabaseURLError", "Overloaded", "Store"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

Query = Callable[Concatenate[Connection, P], R]


class Store:
    """The database of one Kurir process, with its writers."""

    def __init__(
        self, url: str, *, pool_size: int = 10, webhook_deadline_ms: int = DEFAULT_DEADLINE_MS
    ) -> None:
        """``webhook_deadline_ms``: how long each new event's deliveries are tried."""
        self.database = Database(
            url, pool_size=pool_size, execution_options={DEADLINE_OPTION: webhook_deadline_ms}
        )
        self._accept_listeners: list[Callable[[set[int]], None]] = []
        self._accepted = GroupCommitter[NewMessage, Accepted | IdempotencyMismatch | DeviceRemoved](
            self.database, accepting.insert_messages, after_commit=self._notify_accepted
        )
        self._outcomes = GroupCommitter[SendOutcome, bool](self.database, _record_outcomes)
        self._receipts = GroupCommitter[Receipt, None](self.database, lifecycle.apply_receipts)
        self._shared: dict[Callable[..., Any], GroupCommitter[Any, Any]] = {}
        self._started = False

    @property
    def is_sqlite(self) -> bool:
        return self.database.is_sqlite

    def start(self) -> None:
        self._started = True
        for committer in self._committers():
            committer.start()

    async def close(self) -> None:
        for committer in self._committers():
            await committer.close()
        await self.database.dispose()

    def _committers(self) -> list[GroupCommitter[Any, Any]]:
        return [self._accepted, self._outcomes, self._receipts, *self._shared.values()]

    def committer(
        self, flush: FlushBatch[T, R], *, background: bool = False
    ) -> GroupCommitter[T, R]:
        """The process's one group committer for ``flush``, for writes at the rate of sends.

        A transport that keeps tables of its own (the sandbox's deliveries)
        writes through this, so its rows are batched like the store's.
        ``background``: its batches wait for other writes (see `Database.write`).
        """
        found = self._shared.get(flush)
        if found is None:
            found = GroupCommitter[T, R](self.database, flush, background=background)
            if self._started:
                found.start()
            self._shared[flush] = found
        return found

    def on_accepted(self, listener: Callable[[set[int]], None]) -> None:
        """Call ``listener`` with the devices that got messages, after each such commit."""
        self._accept_listeners.append(listener)

    def on_deliveries_due(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit that made webhook deliveries due.

        Whichever write it was: `kurir.store.deliveries.announce_due_deliveries`
        marks the transaction, and `Database.write` calls the listeners.
        """
        self.database.on_signal(DELIVERIES_DUE, listener)

    def announce_new_messages(self, device_ids: set[int]) -> None:
        """Tell ``on_accepted`` listeners of messages committed another way (a broadcast's)."""
        for listener in self._accept_listeners:
            listener(device_ids)

    def _notify_accepted(self, batch: Sequence[NewMessage]) -> None:
        device_ids = {message.device_id for message in batch}
        for listener in self._accept_listeners:
            listener(device_ids)

    async def accept(self, message: NewMessage) -> Accepted | IdempotencyMismatch | DeviceRemoved:
        """Store a new message; returns once it is committed. May raise Overloaded."""
        return await self._accepted.submit(message)

    async def record_outcome(self, outcome: SendOutcome) -> bool:
        """Record a send's outcome; whether its device is still in service."""
        return await self._outcomes.submit(outcome)

    async def record_receipt(self, receipt: Receipt) -> None:
        """Apply a delivery or read receipt to its device's message of that id, if it has one."""
        await self._receipts.submit(receipt)

    async def read(self, query: Query[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a read-only query from `kurir.store.accounts` or `kurir.store.lifecycle`."""
        return await self.database.read(lambda connection: query(connection, *args, **kwargs))

    async def write(self, query: Query[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a query in its own committed transaction on the write pool."""
        return await self.database.write(lambda connection: query(connection, *args, **kwargs))

    async def write_in_background(self, query: Query[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """`write`, but behind every other write waiting on SQLite (see `Database.write`)."""
        return await self.database.write(
            lambda connection: query(connection, *args, **kwargs), background=True
        )


def _record_outcomes(connection: Connection, batch: Sequence[SendOutcome]) -> list[bool]:
    lifecycle.record_outcomes(connection, batch)
    paced: dict[str, dict[int, int]] = {}
    for outcome in batch:
        if outcome.next_send_at is not None:
            paced.setdefault(outcome.worker, {})[outcome.device_id] = outcome.next_send_at
    for worker, next_send_at in paced.items():
        leases.save_next_send_times(connection, worker=worker, next_send_at=next_send_at)
    # A worker learns of a removal with the outcome of the send before the next.
    removed = accepting.removed_devices(connection, {o.device_id for o in batch})
    return [outcome.device_id not in removed for outcome in batch]
