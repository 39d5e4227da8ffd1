"""Removing a device under a steady stream of sends: from the removal on, nothing in, nothing out.

The claim (issue: "Hardening"): once ``kurir devices remove`` has committed,
every API process refuses the device with 404 although it caches device
lookups (here for 30 s), and no worker sends for it; every send answered 200
before then is either sent or failed with "the device was removed". The
device answers each send 50 ms after delivering it, so a worker always holds
claimed messages when the removal lands.
"""

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.status import DEVICE_REMOVED
from kurir.store import Store
from kurir.store.database import is_sqlite
from kurir.store.tables import devices, messages, sandbox_deliveries
from tests.e2e.kurir_cli import run_kurir, succeeded
from tests.support.gateway import button_body, wait_for
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess

THREADS = 4
ENV = {"KURIR_AUTH_CACHE_SECONDS": "30"}
SENT = {"sent", "delivered", "read"}


class Answer(msgspec.Struct, frozen=True):
    started_ms: int
    status: int
    body: dict[str, str]


class Stream:
    """Threads posting sends to the API processes in turn until stopped."""

    def __init__(self, apis: list[KurirProcess], api_key: str, device: str) -> None:
        self.apis = apis
        self.api_key = api_key
        self.device = device
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._post, args=(n,)) for n in range(THREADS)]

    def __enter__(self) -> "Stream":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(20)

    def count(self, status: int) -> int:
        with self.lock:
            return sum(answer.status == status for answer in self.answers)

    def _post(self, thread: int) -> None:
        api = self.apis[thread % len(self.apis)]
        with api.client(self.api_key) as http:
            for index in range(100_000):
                if self.stopping.is_set():
                    return
                started_ms = time.time_ns() // 1_000_000
                response = http.post(
                    "/send/button", json=button_body(self.device, f"stream-{thread}-{index}")
                )
                with self.lock:
                    self.answers.append(Answer(started_ms, response.status_code, response.json()))


class Outcome(msgspec.Struct):
    #: message_id -> (status, last_error, attempts)
    messages: dict[str, tuple[str, str | None, int]]
    #: message_id -> (delivered_at, send_count)
    deliveries: dict[str, tuple[int, int]]


def _read(database_url: str, device: str) -> Outcome:
    def read(connection: Connection) -> Outcome:
        device_id = connection.execute(
            sa.select(devices.c.id).where(devices.c.public_id == device)
        ).scalar_one()
        rows = connection.execute(
            sa.select(
                messages.c.message_id,
                messages.c.status,
                messages.c.last_error,
                messages.c.attempts,
            ).where(messages.c.device_id == device_id)
        )
        found = {row.message_id: (row.status, row.last_error, row.attempts) for row in rows}
        rows = connection.execute(
            sa.select(
                sandbox_deliveries.c.message_id,
                sandbox_deliveries.c.delivered_at,
                sandbox_deliveries.c.send_count,
            ).where(sandbox_deliveries.c.device_id == device_id)
        )
        return Outcome(found, {row[0]: (row[1], row[2]) for row in rows})

    async def run() -> Outcome:
        store = Store(database_url, pool_size=1)
        try:
            return await store.database.read(read)
        finally:
            await store.close()

    return asyncio.run(run())


def _settled(database_url: str, device: str) -> Outcome | None:
    outcome = _read(database_url, device)
    waiting = {"scheduled", "queued", "sending"}
    return None if any(s in waiting for s, _, _ in outcome.messages.values()) else outcome


def _processes(database_url: str, tmp_path: Path, stack: ExitStack) -> Iterator[KurirProcess]:
    """The API processes: one ``kurir serve`` on SQLite; on PostgreSQL two, and a worker."""
    if is_sqlite(database_url):
        server = KurirProcess(database_url, tmp_path, env=ENV).start()
        stack.callback(server.stop)
        yield server
        return
    apis = [
        KurirProcess(database_url, tmp_path, args=("--no-dispatch",), env=ENV).start(wait=False)
        for _ in range(2)
    ]
    for api in apis:
        stack.callback(api.stop)
    for api in apis:
        api.wait_healthy()
    worker = KurirProcess(database_url, tmp_path, command="worker", env=ENV).start()
    stack.callback(worker.stop)
    yield from apis


def test_a_removed_device_accepts_nothing_and_sends_nothing_from_the_removal_on(
    database_url: str, tmp_path: Path
) -> None:
    tenant = provision_tenant(database_url, name="shop", transport_config='{"latency_ms": 50}')
    with ExitStack() as stack:
        apis = list(_processes(database_url, tmp_path, stack))
        with Stream(apis, tenant.api_key, tenant.device_id) as stream:
            wait_for(lambda: stream.count(200) >= 300, timeout=20, what="300 accepted sends")
            removal_started_ms = time.time_ns() // 1_000_000
            removed = run_kurir(
                "devices", "remove", "--account", "shop", tenant.device_id,
                database_url=database_url,
            )  # fmt: skip
            removed_ms = time.time_ns() // 1_000_000
            assert succeeded(removed) == f"device {tenant.device_id} removed\n"
            delivered_by_then = set(_read(database_url, tenant.device_id).deliveries)
            wait_for(lambda: stream.count(404) >= 100, timeout=20, what="100 refused sends")
        outcome = wait_for(
            lambda: _settled(database_url, tenant.device_id),
            timeout=20,
            what="every message of the device to settle",
        )

    # Every send is answered 200 before the removal or 404 after it, nothing else.
    assert {answer.status for answer in stream.answers} == {200, 404}
    not_found = {"status": "error", "message": f"device {tenant.device_id!r} not found"}
    for answer in stream.answers:
        if answer.status == 404:
            assert answer.body == not_found
            assert answer.started_ms >= removal_started_ms, answer
        elif answer.started_ms > removed_ms:
            raise AssertionError(f"accepted after the removal: {answer}")

    # What was accepted went out, or failed because of the removal.
    accepted = {answer.body["message_id"] for answer in stream.answers if answer.status == 200}
    assert set(outcome.messages) == accepted
    sent = {m for m, (status, _, _) in outcome.messages.items() if status in SENT}
    failed = {m: attempts for m, (_, error, attempts) in outcome.messages.items() if m not in sent}
    assert {outcome.messages[m][:2] for m in failed} == {("failed", DEVICE_REMOVED)}

    # Nothing was sent after the removal, once each.
    assert set(outcome.deliveries) == sent == delivered_by_then
    assert {count for _, count in outcome.deliveries.values()} == {1}
    assert max(at for at, _ in outcome.deliveries.values()) <= removed_ms

    # Some were queued, and some already claimed by the worker, which let them go.
    assert 0 in failed.values()
    assert 1 in failed.values(), "the worker held no claimed message: nothing was tested"
