"""Group commit on a real database: few transactions, answers only after commit, all or nothing.

The committer is the real one; the batch it flushes inserts accounts (a table
with a unique name), so a duplicate name makes a real database refuse a batch.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kurir.store import Store
from kurir.store.group_commit import GroupCommitter, Overloaded
from kurir.store.tables import accounts
from tests.support.store_data import T0


class Hold:
    """Keeps a flush inside its open transaction until ``set``.

    A flush is synchronous: on SQLite it runs on the writer thread, which can
    simply wait for an event; on PostgreSQL it runs on the event loop, so it
    waits inside the database instead, for an advisory lock this test holds
    from a connection of its own.
    """

    _KEY = 4_242_424

    def __init__(self, store: Store) -> None:
        self._url = store.database.url
        self._sqlite = store.is_sqlite
        self._released = threading.Event()
        self._holder: asyncpg.Connection | None = None

    async def __aenter__(self) -> "Hold":
        if not self._sqlite:
            self._holder = await asyncpg.connect(self._url.replace("postgresql://", "postgres://"))
            await self._holder.execute("SELECT pg_advisory_lock($1)", self._KEY)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.release()
        if self._holder is not None:
            await self._holder.close()

    def block(self, connection: Connection) -> None:
        if self._sqlite:
            self._released.wait(10)
        else:
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(self._KEY)))

    async def release(self) -> None:
        if not self._released.is_set():
            self._released.set()
            if self._holder is not None:
                await self._holder.execute("SELECT pg_advisory_unlock($1)", self._KEY)


class AccountWriter:
    """A flush that inserts account names, remembers its batches and can be held open."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[list[str]] = []
        self.committed: list[list[str]] = []
        self.in_transaction = asyncio.Event()
        self.hold: Hold | None = None
        self._loop = asyncio.get_running_loop()

    def committer(self, *, max_pending: int = 20_000) -> GroupCommitter[str, int]:
        committer = GroupCommitter[str, int](
            self.store.database,
            self.flush,
            after_commit=lambda batch: self.committed.append(list(batch)),
            max_pending=max_pending,
        )
        committer.start()
        return committer

    def flush(self, connection: Connection, batch: Sequence[str]) -> list[int]:
        self.batches.append(list(batch))
        ids = [
            connection.execute(
                accounts.insert().values(name=name, created_at=T0).returning(accounts.c.id)
            ).scalar_one()
            for name in batch
        ]
        self._loop.call_soon_threadsafe(self.in_transaction.set)
        if self.hold is not None:
            self.hold.block(connection)
        return ids

    async def stored(self) -> set[str]:
        """Names visible to another connection: committed ones only."""
        return await self.store.database.read(
            lambda connection: set(connection.execute(sa.select(accounts.c.name)).scalars())
        )


@pytest.fixture
async def writer(store: Store) -> AccountWriter:
    return AccountWriter(store)


@pytest.fixture
async def hold(store: Store) -> AsyncIterator[Hold]:
    async with Hold(store) as held:
        yield held


async def test_concurrent_submits_share_few_transactions(writer: AccountWriter) -> None:
    committer = writer.committer()
    names = [f"n{index}" for index in range(300)]
    try:
        ids = await asyncio.gather(*(committer.submit(name) for name in names))
    finally:
        await committer.close()
    assert len(set(ids)) == len(names)
    assert await writer.stored() == set(names)
    assert sorted(name for batch in writer.batches for name in batch) == sorted(names)
    # All 300 were waiting together: one transaction, or two if the first
    # submit started its own before the others arrived.
    assert len(writer.batches) <= 2
    assert writer.committed == writer.batches


async def test_a_submit_is_answered_only_after_its_transaction_commits(
    writer: AccountWriter, hold: Hold
) -> None:
    writer.hold = hold
    committer = writer.committer()

    async def submit_then_look(name: str) -> bool:
        await committer.submit(name)
        return name in await writer.stored()

    try:
        waiting = [asyncio.create_task(submit_then_look(f"w{index}")) for index in range(5)]
        await asyncio.wait_for(writer.in_transaction.wait(), 5)
        # Rows written, transaction still open: nobody has an answer, nobody sees them.
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)
        assert await writer.stored() == set()
        assert writer.committed == []
        await writer.hold.release()
        # Whoever is answered finds its row committed.
        assert await asyncio.gather(*waiting) == [True] * 5
    finally:
        await writer.hold.release()
        await committer.close()


async def test_a_failing_batch_fails_every_waiter_and_stores_nothing(
    writer: AccountWriter, hold: Hold
) -> None:
    writer.hold = hold
    committer = writer.committer()
    try:
        # The first batch holds the writer, so the next five wait together.
        first = asyncio.create_task(committer.submit("taken"))
        await asyncio.wait_for(writer.in_transaction.wait(), 5)
        names = ["a", "b", "taken", "c", "d"]  # "taken" breaks the unique name
        second = [asyncio.create_task(committer.submit(name)) for name in names]
        await asyncio.sleep(0)
        await writer.hold.release()

        assert isinstance(await first, int)
        results = await asyncio.gather(*second, return_exceptions=True)
        assert all(isinstance(result, IntegrityError) for result in results), results
        assert writer.batches[1] == names
        assert await writer.stored() == {"taken"}
        assert writer.committed == [["taken"]]  # the failed batch is not announced

        # The committer goes on with the next batch.
        assert isinstance(await committer.submit("after"), int)
    finally:
        await writer.hold.release()
        await committer.close()
    assert await writer.stored() == {"taken", "after"}


async def test_too_many_waiting_writes_are_refused_not_queued(
    writer: AccountWriter, hold: Hold
) -> None:
    writer.hold = hold
    committer = writer.committer(max_pending=3)
    try:
        first = asyncio.create_task(committer.submit("first"))
        await asyncio.wait_for(writer.in_transaction.wait(), 5)
        queued = [asyncio.create_task(committer.submit(f"q{index}")) for index in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            await committer.submit("one too many")
        await writer.hold.release()
        await asyncio.gather(first, *queued)
    finally:
        await writer.hold.release()
        await committer.close()
    assert await writer.stored() == {"first", "q0", "q1", "q2"}


async def test_close_commits_what_is_waiting_then_refuses_more(
    writer: AccountWriter, hold: Hold
) -> None:
    writer.hold = hold
    committer = writer.committer()
    first = asyncio.create_task(committer.submit("first"))
    await asyncio.wait_for(writer.in_transaction.wait(), 5)
    waiting = asyncio.create_task(committer.submit("waiting"))
    await asyncio.sleep(0)
    closing = asyncio.create_task(committer.close())
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await committer.submit("late")
    await writer.hold.release()
    await asyncio.gather(first, waiting, closing)
    assert await writer.stored() == {"first", "waiting"}


async def test_a_write_whose_caller_gives_up_stays_whole_and_the_writer_goes_on(
    store: Store, hold: Hold
) -> None:
    loop = asyncio.get_running_loop()
    in_transaction = asyncio.Event()
    # An answer delivered to the abandoned caller must not blow up in the loop.
    loop_errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))

    def insert_then_wait(connection: Connection) -> None:
        connection.execute(accounts.insert().values(name="abandoned", created_at=T0))
        loop.call_soon_threadsafe(in_transaction.set)
        hold.block(connection)

    abandoned = asyncio.create_task(store.database.write(insert_then_wait))
    await asyncio.wait_for(in_transaction.wait(), 5)
    abandoned.cancel()
    await hold.release()
    with pytest.raises(asyncio.CancelledError):
        await abandoned

    await store.database.write(
        lambda connection: connection.execute(accounts.insert().values(name="next", created_at=T0))
    )
    stored = await store.database.read(
        lambda connection: set(connection.execute(sa.select(accounts.c.name)).scalars())
    )
    # SQLite's writer thread finishes the transaction it began; on PostgreSQL
    # the cancelled query takes its transaction down with it. Whole either way.
    assert stored == ({"abandoned", "next"} if store.is_sqlite else {"next"})
    loop.set_exception_handler(None)
    assert loop_errors == []
