"""Sends come first: on SQLite the deliverer yields to other writes, and still delivers.

A real deliverer, a real receiver on loopback and a real SQLite store. Other
writes keep the store's one writer busy the whole time (each holds it 2 ms,
and several are always queued), as a sandbox sending flat out does.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.store import Store
from kurir.store.migrate import upgrade_to_head_async
from tests.integration.test_webhook_deliverer import delivering, until
from tests.support.origin import Origin, answer
from tests.support.outbox import Answer, Receiver, add_endpoint, delivery_rows, emit
from tests.support.store_data import add_account


class InFlight:
    """An answer after 20 ms that counts the deliveries being answered at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        #: How many were being answered as each delivery arrived.
        self.seen: list[int] = []

    def answer(self) -> Answer:
        async def respond(_n: int, _request: object, writer: asyncio.StreamWriter) -> None:
            self.now += 1
            self.most = max(self.most, self.now)
            self.seen.append(self.now)
            await asyncio.sleep(0.02)
            self.now -= 1
            await answer(writer, 200, b"")

        return respond


async def keep_the_writer_busy(store: Store, stop: asyncio.Event) -> int:
    """Four writers in a row, each holding the writer 2 ms, until ``stop``; how many wrote."""

    def hold(_connection: Connection) -> None:
        time.sleep(0.002)

    async def one_writer() -> int:
        wrote = 0
        while not stop.is_set():
            await store.database.write(hold)
            wrote += 1
        return wrote

    return sum(await asyncio.gather(*(one_writer() for _ in range(4))))


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite:///{tmp_path / 'kurir.db'}"
    await upgrade_to_head_async(url)
    store = Store(url)
    store.start()
    try:
        yield store
    finally:
        await store.close()


async def test_deliveries_go_out_at_a_quarter_of_their_slots_while_sends_keep_the_writer_busy(
    sqlite_store: Store,
) -> None:
    store = sqlite_store
    in_flight = InFlight()
    async with Origin({}) as origin:
        account, (device,) = await add_account(store)
        _, secret = await add_endpoint(store, account, origin.url("/hooks"))
        receiver = Receiver(secret, in_flight.answer())
        origin.routes = {"/hooks": receiver}
        async with delivering(store, per_endpoint=8):
            # Unhurried, every slot is used.
            await emit(store, account, device, at=now_ms(), count=40)
            await receiver.wait_for(40)
            assert in_flight.most == 8

            stop = asyncio.Event()
            busy = asyncio.create_task(keep_the_writer_busy(store, stop))
            await asyncio.sleep(0.05)
            waits = store.database.background_waits
            await emit(store, account, device, at=now_ms(), count=120)
            await receiver.wait_for(160, within=30)
            stop.set()
            wrote = await busy

    async def all_delivered() -> bool:
        return {row.status for row in await delivery_rows(store)} == {"delivered"}

    await until(all_delivered)
    assert len(receiver.per_id()) == 160
    assert set(receiver.per_id().values()) == {1}
    assert store.database.background_waits > waits  # its writes did wait for the others
    assert wrote > 100
    # The first claims took all 8 slots; once they had waited, at most half of
    # them were in use (a quarter at the least), and deliveries never stopped.
    assert max(in_flight.seen[-60:]) <= 4
