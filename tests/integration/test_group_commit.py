"""Group commit on a real database: few transactions, answers only after commit, all or nothing.

The committer is the real one; the batch it flushes inserts accounts (a table
with a unique name), so a duplicate name makes a real database refuse a batch.
"""

import asyncio
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kurir.store import Store
from kurir.store.group_commit import GroupCommitter, Overloaded
from kurir.store.tables import accounts
from tests.support.store_data import T0


class AccountWriter:
    """A flush that inserts account names, remembers its batches and can be held open."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[list[str]] = []
        self.committed: list[list[str]] = []
        self.in_transaction = asyncio.Event()
        self.hold: asyncio.Event | None = None

    def committer(self, **options: int) -> GroupCommitter[str, int]:
        committer = GroupCommitter[str, int](
            self.store.database.writer,
            self.flush,
            after_commit=lambda batch: self.committed.append(list(batch)),
            **options,
        )
        committer.start()
        return committer

    async def flush(self, connection: AsyncConnection, batch: Sequence[str]) -> list[int]:
        self.batches.append(list(batch))
        ids = []
        for name in batch:
            result = await connection.execute(
                accounts.insert().values(name=name, created_at=T0).returning(accounts.c.id)
            )
            ids.append(result.scalar_one())
        self.in_transaction.set()
        if self.hold is not None:
            await self.hold.wait()
        return ids

    async def stored(self) -> set[str]:
        """Names visible to another connection: committed ones only."""
        async with self.store.database.reader.connect() as connection:
            return set((await connection.execute(sa.select(accounts.c.name))).scalars())


@pytest.fixture
async def writer(store: Store) -> AccountWriter:
    return AccountWriter(store)


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
    writer: AccountWriter,
) -> None:
    writer.hold = asyncio.Event()
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
        writer.hold.set()
        # Whoever is answered finds its row committed.
        assert await asyncio.gather(*waiting) == [True] * 5
    finally:
        writer.hold.set()
        await committer.close()


async def test_a_failing_batch_fails_every_waiter_and_stores_nothing(
    writer: AccountWriter,
) -> None:
    writer.hold = asyncio.Event()
    committer = writer.committer()
    try:
        # The first batch holds the writer, so the next five wait together.
        first = asyncio.create_task(committer.submit("taken"))
        await asyncio.wait_for(writer.in_transaction.wait(), 5)
        names = ["a", "b", "taken", "c", "d"]  # "taken" breaks the unique name
        second = [asyncio.create_task(committer.submit(name)) for name in names]
        await asyncio.sleep(0)
        writer.hold.set()

        assert isinstance(await first, int)
        results = await asyncio.gather(*second, return_exceptions=True)
        assert all(isinstance(result, IntegrityError) for result in results), results
        assert writer.batches[1] == names
        assert await writer.stored() == {"taken"}
        assert writer.committed == [["taken"]]  # the failed batch is not announced

        # The committer goes on with the next batch.
        assert isinstance(await committer.submit("after"), int)
    finally:
        writer.hold.set()
        await committer.close()
    assert await writer.stored() == {"taken", "after"}


async def test_too_many_waiting_writes_are_refused_not_queued(writer: AccountWriter) -> None:
    writer.hold = asyncio.Event()
    committer = writer.committer(max_pending=3)
    try:
        first = asyncio.create_task(committer.submit("first"))
        await asyncio.wait_for(writer.in_transaction.wait(), 5)
        queued = [asyncio.create_task(committer.submit(f"q{index}")) for index in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            await committer.submit("one too many")
        writer.hold.set()
        await asyncio.gather(first, *queued)
    finally:
        writer.hold.set()
        await committer.close()
    assert await writer.stored() == {"first", "q0", "q1", "q2"}


async def test_close_commits_what_is_waiting_then_refuses_more(writer: AccountWriter) -> None:
    writer.hold = asyncio.Event()
    committer = writer.committer()
    first = asyncio.create_task(committer.submit("first"))
    await asyncio.wait_for(writer.in_transaction.wait(), 5)
    waiting = asyncio.create_task(committer.submit("waiting"))
    await asyncio.sleep(0)
    closing = asyncio.create_task(committer.close())
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await committer.submit("late")
    writer.hold.set()
    await asyncio.gather(first, waiting, closing)
    assert await writer.stored() == {"first", "waiting"}
