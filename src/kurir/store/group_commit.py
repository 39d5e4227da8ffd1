"""Group commit: many callers, one transaction, each answered after the commit.

A transaction per request caps SQLite at about 1,400 inserts a second on this
class of machine (one fsync each); gathering whatever arrived while the previous
transaction was committing reaches about 20,000. No artificial delay is added:
under light load a batch is one item and commits at once, under heavy load the
batches grow by themselves.
"""

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection

from kurir.store.database import Database

T = TypeVar("T")
R = TypeVar("R")

#: Writes a batch inside an open transaction; returns one result per item, in order.
FlushBatch = Callable[[Connection, Sequence[T]], Sequence[R]]


class Overloaded(Exception):
    """More writes are waiting than the committer admits; the caller should back off."""


class GroupCommitter(Generic[T, R]):
    """Serialises writes of one kind into batched transactions.

    ``submit`` resolves with the item's result only once its transaction has
    committed, or raises what the transaction raised: either every item of a
    batch is stored or none is.
    """

    def __init__(
        self,
        database: Database,
        flush: FlushBatch[T, R],
        *,
        max_batch: int = 1000,
        max_pending: int = 20_000,
        after_commit: Callable[[Sequence[T]], None] | None = None,
        background: bool = False,
    ) -> None:
        """``background``: each batch is a background write (see `Database.write`)."""
        self._database = database
        self._background = background
        self._flush = flush
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._after_commit = after_commit
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            # Kept, as asking for the running loop costs a getpid() system call
            # on every submit.
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="group-commit")

    async def close(self) -> None:
        """Commit what is already waiting, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def submit(self, item: T) -> R:
        if self._closing:
            raise Overloaded("shutting down")
        if len(self._pending) >= self._max_pending:
            raise Overloaded(f"{len(self._pending)} writes are already waiting")
        if self._loop is None:
            raise RuntimeError("GroupCommitter.submit before start")
        future: asyncio.Future[R] = self._loop.create_future()
        self._pending.append((item, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._database.write(
                lambda connection: self._flush(connection, items), background=self._background
            )
        except Exception as error:  # every waiter learns why its write failed
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a caller that gave up has a cancelled future
                future.set_result(result)
        if self._after_commit is not None:
            self._after_commit(items)
