"""Real ``kurir serve`` and ``kurir worker`` processes deliver webhooks from the outbox.

Events are written into the database by this test, as another Kurir process
would write them: what is waiting when a process starts goes out at its first
pass, and what is written while it runs reaches it on PostgreSQL by NOTIFY
(and a lone worker on SQLite by its idle look every half second).
"""

import asyncio
from pathlib import Path

import pytest

from kurir.clock import now_ms
from kurir.store import Store
from kurir.store.migrate import upgrade_to_head_async
from kurir.webhooks.signing import new_secret
from tests.support.gateway import wait_for
from tests.support.origin import served
from tests.support.outbox import Receiver, add_endpoint, delivery_rows, emit
from tests.support.server import KurirProcess
from tests.support.store_data import add_account

ENV = {"KURIR_ALLOW_PRIVATE_URLS": "true"}


def write_endpoint(url: str, receiver_url: str, secret: str) -> tuple[int, int]:
    """An account, a device and an endpoint at ``receiver_url``: ``(account, device)``."""

    async def write() -> tuple[int, int]:
        await upgrade_to_head_async(url)
        store = Store(url, pool_size=1)
        try:
            account, (device,) = await add_account(store)
            await add_endpoint(store, account, receiver_url, secret=secret)
        finally:
            await store.close()
        return account, device

    return asyncio.run(write())


def write_events(url: str, account: int, device: int, count: int) -> None:
    async def write() -> None:
        store = Store(url, pool_size=1)
        store.start()
        try:
            await emit(store, account, device, at=now_ms(), count=count)
        finally:
            await store.close()

    asyncio.run(write())


def delivered(url: str) -> list[str]:
    async def read() -> list[str]:
        store = Store(url, pool_size=1)
        try:
            return [row.status for row in await delivery_rows(store)]
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_kurir_process_delivers_the_backlog_and_what_comes_while_it_runs(
    database_url: str, tmp_path: Path, command: str
) -> None:
    secret = new_secret()
    receiver = Receiver(secret)
    # On SQLite nothing tells `serve` of another process's commits: it would find
    # them within its 30 s idle look; a lone worker looks every half second.
    sees_others = command == "worker" or not database_url.startswith("sqlite")
    expected = 5 if sees_others else 3
    with served({"/hooks": receiver}) as origin:
        account, device = write_endpoint(database_url, origin.url("/hooks"), secret)
        write_events(database_url, account, device, 3)
        process = KurirProcess(database_url, tmp_path, command=command, env=ENV).start()
        try:
            wait_for(lambda: len(receiver.verified) >= 3, timeout=20, what="the backlog")
            if sees_others:
                write_events(database_url, account, device, 2)
            wait_for(lambda: len(receiver.verified) >= expected, timeout=20, what="new events")
            wait_for(lambda: set(delivered(database_url)) == {"delivered"}, timeout=10, what="rows")
        finally:
            process.stop()
    assert sorted(receiver.per_id().values()) == [1] * expected, process.log()
    assert "Traceback" not in process.log()
