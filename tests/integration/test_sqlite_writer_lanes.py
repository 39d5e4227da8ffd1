"""The SQLite writer's lanes: sends' writes first, background ones soon all the same.

On a real SQLite file through `Database.write`: the first write holds the
writer thread until released, so that what queues behind it is taken in the
writer's own order, which each write records as it runs.
"""

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Connection

from kurir.store.database import Database


class Writer:
    """Writes that record the order they ran in, behind one that holds the writer."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.ran: list[str] = []
        self._release = threading.Event()
        self._holding = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def work(self, name: str) -> "asyncio.Task[None]":
        def record(_connection: Connection) -> None:
            self.ran.append(name)

        return asyncio.create_task(self.database.write(record, background=name.startswith("bg")))

    async def hold(self) -> "asyncio.Task[None]":
        def wait(_connection: Connection) -> None:
            self._loop.call_soon_threadsafe(self._holding.set)
            self._release.wait(10)

        held = asyncio.create_task(self.database.write(wait))
        await self._holding.wait()
        return held

    def release(self) -> None:
        self._release.set()


@pytest.fixture
async def writer(sqlite_database_url: str) -> AsyncIterator[Writer]:
    database = Database(sqlite_database_url)
    try:
        yield Writer(database)
    finally:
        await database.dispose()


async def queued(writer: Writer, names: list[str]) -> None:
    """Queue ``names`` in order behind a held write, release it, and wait for them all."""
    held = await writer.hold()
    tasks = []
    for name in names:
        tasks.append(writer.work(name))
        await asyncio.sleep(0)  # each reaches the queue before the next
    writer.release()
    await asyncio.gather(held, *tasks)


async def test_a_background_write_waits_for_the_writes_queued_after_it(writer: Writer) -> None:
    waits = writer.database.background_waits
    await queued(writer, ["bg-1", "send-1", "send-2", "bg-2", "send-3"])
    assert writer.ran == ["send-1", "send-2", "send-3", "bg-1", "bg-2"]
    assert writer.database.background_waits == waits + 1


async def test_a_background_write_goes_after_eight_others_however_many_wait(
    writer: Writer,
) -> None:
    sends = [f"send-{n}" for n in range(1, 13)]
    await queued(writer, ["bg-1", *sends])
    assert writer.ran == [*sends[:8], "bg-1", *sends[8:]]


async def test_background_writes_keep_their_order_and_need_not_wait_on_an_idle_writer(
    writer: Writer,
) -> None:
    await queued(writer, ["bg-1", "bg-2", "bg-3"])
    assert writer.ran == ["bg-1", "bg-2", "bg-3"]
    assert writer.database.background_waits == 0
    await writer.work("bg-4")
    assert writer.ran[-1] == "bg-4"
    assert writer.database.background_waits == 0


SENDS = [f"send-{n}" for n in range(1, 13)]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["bg-1", "send-1", "bg-2"], ["send-1", "bg-1", "bg-2"]),
        # More foreground writes than a background one lets pass: the stop waits for all.
        (["bg-1", *SENDS], [*SENDS[:8], "bg-1", *SENDS[8:]]),
    ],
)
async def test_close_runs_every_write_already_queued_in_both_lanes(
    sqlite_database_url: str, names: list[str], expected: list[str]
) -> None:
    database = Database(sqlite_database_url)
    writer = Writer(database)
    held = await writer.hold()
    tasks = [writer.work(name) for name in names]
    await asyncio.sleep(0)
    closing = asyncio.create_task(database.dispose())
    writer.release()
    await asyncio.gather(held, *tasks, closing)
    assert writer.ran == expected
