"""Persistence: the schema, its queries, migrations and the group-commit writers.

`Store` is the one object the rest of Kurir holds. Reads run on the read pool,
single writes on the write pool, and the high-rate writes (accepted messages,
send outcomes, sandbox deliveries) go through group committers.
"""

from collections.abc import Callable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection

from kurir.store import leases, messages
from kurir.store.database import DATABASE_ERRORS, Database, DatabaseURLError
from kurir.store.group_commit import GroupCommitter, Overloaded
from kurir.store.records import (
    Accepted,
    DeviceRemoved,
    IdempotencyMismatch,
    NewMessage,
    SandboxDelivery,
    SendOutcome,
)

__all__ = ["DATABASE_ERRORS", "DatabaseURLError", "Overloaded", "Store"]

P = ParamSpec("P")
R = TypeVar("R")

Query = Callable[Concatenate[Connection, P], R]


class Store:
    """The database of one Kurir process, with its writers."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.database = Database(url, pool_size=pool_size)
        self._accept_listeners: list[Callable[[set[int]], None]] = []
        self._accepted = GroupCommitter[NewMessage, Accepted | IdempotencyMismatch | DeviceRemoved](
            self.database, messages.insert_messages, after_commit=self._notify_accepted
        )
        self._outcomes = GroupCommitter[SendOutcome, bool](self.database, _record_outcomes)
        self._sandbox = GroupCommitter[SandboxDelivery, None](
            self.database, messages.record_sandbox_deliveries
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database.is_sqlite

    def start(self) -> None:
        for committer in self._committers():
            committer.start()

    async def close(self) -> None:
        for committer in self._committers():
            await committer.close()
        await self.database.dispose()

    def _committers(self) -> tuple[GroupCommitter[object, object], ...]:
        return (self._accepted, self._outcomes, self._sandbox)  # type: ignore[return-value]  # the tuple only starts and closes them

    def on_accepted(self, listener: Callable[[set[int]], None]) -> None:
        """Call ``listener`` with the devices that got messages, after each such commit."""
        self._accept_listeners.append(listener)

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

    async def record_sandbox_delivery(self, delivery: SandboxDelivery) -> None:
        await self._sandbox.submit(delivery)

    async def read(self, query: Query[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a read-only query from `kurir.store.accounts` or `kurir.store.messages`."""
        return await self.database.read(lambda connection: query(connection, *args, **kwargs))

    async def write(self, query: Query[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a query in its own committed transaction on the write pool."""
        return await self.database.write(lambda connection: query(connection, *args, **kwargs))


def _record_outcomes(connection: Connection, batch: Sequence[SendOutcome]) -> list[bool]:
    messages.record_outcomes(connection, batch)
    paced: dict[str, dict[int, int]] = {}
    for outcome in batch:
        if outcome.next_send_at is not None:
            paced.setdefault(outcome.worker, {})[outcome.device_id] = outcome.next_send_at
    for worker, next_send_at in paced.items():
        leases.save_next_send_times(connection, worker=worker, next_send_at=next_send_at)
    # A worker learns of a removal with the outcome of the send before the next.
    removed = messages.removed_devices(connection, {o.device_id for o in batch})
    return [outcome.device_id not in removed for outcome in batch]
