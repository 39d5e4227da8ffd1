"""A PostgreSQL cluster of real processes: 3 API servers, 3 workers, one of them killed.

The claim under test: with any number of API and worker processes on one
database, every acknowledged message is sent; none twice, except a message a
killed worker had in flight (at most one per device it owned); per-device
pacing holds across workers; a dead worker's devices are taken over.
"""

import asyncio
import itertools
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest

from tests.support.bulk import post_all
from tests.support.databases import PostgresUnavailable, postgres_database
from tests.support.provision import add_sandbox_devices
from tests.support.server import KurirProcess

pytestmark = pytest.mark.postgres

MESSAGES = 20_000
UNPACED_DEVICES = 45
PACED_DEVICES = 5
MESSAGES_PER_PACED_DEVICE = 30
MIN_INTERVAL_MS = 40
LEASE_ENV = {
    "KURIR_DEVICE_LEASE_SECONDS": "3",
    "KURIR_MESSAGE_LEASE_SECONDS": "3",
    "KURIR_LOG_LEVEL": "info",
}


@pytest.fixture
def cluster_database() -> Iterator[str]:
    try:
        with postgres_database() as url:
            yield url
    except PostgresUnavailable as error:
        pytest.skip(str(error))


def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    return asyncio.run(run())


def _send_all(apis: list[KurirProcess], jobs: list[tuple[str, str | None]]) -> list[str]:
    """Post every (device, schedule) job across the API processes; the acknowledged ids."""
    bodies: list[dict[str, Any]] = []
    for index, (device, schedule) in enumerate(jobs):
        body: dict[str, Any] = {
            "device": device,
            "phone": "628111111111",
            "message_header": "Cluster",
            "message": f"message {index}",
            "message_footer": "test",
            "buttons": ["Ya", "Tidak"],
        }
        if schedule is not None:
            body["schedule"] = schedule
        bodies.append(body)
    answers = asyncio.run(
        post_all(
            [("127.0.0.1", api.port) for api in apis],
            {"Authorization": apis[0].api_key},
            "/send/button",
            bodies,
            key_prefix=secrets.token_hex(4),
        )
    )
    assert [status for status, _ in answers] == [200] * len(jobs)
    return [answer["message_id"] for _, answer in answers]


def test_cluster_sends_everything_once_through_a_worker_kill(
    cluster_database: str, tmp_path: Path
) -> None:
    url = cluster_database
    # All three start at once: migrations and bootstrap must not collide.
    apis = [
        KurirProcess(url, tmp_path, args=("--no-dispatch",), env=LEASE_ENV).start(wait=False)
        for _ in range(3)
    ]
    workers: list[KurirProcess] = []
    try:
        for api in apis:
            api.wait_healthy()
        account_id = _fetch(url, "SELECT id FROM accounts WHERE name = 'default'")[0]["id"]
        unpaced = add_sandbox_devices(url, account_id, UNPACED_DEVICES, prefix="fast")
        paced = add_sandbox_devices(
            url,
            account_id,
            PACED_DEVICES,
            min_interval_ms=MIN_INTERVAL_MS,
            max_interval_ms=MIN_INTERVAL_MS + 20,
            prefix="paced",
        )
        workers = [
            KurirProcess(url, tmp_path, command="worker", env=LEASE_ENV).start() for _ in range(3)
        ]

        soon = datetime.now(UTC) + timedelta(seconds=3)
        jobs: list[tuple[str, str | None]] = [
            (device, None) for device in paced for _ in range(MESSAGES_PER_PACED_DEVICE)
        ]
        rng = random.Random(7)
        while len(jobs) < MESSAGES:
            schedule = soon.isoformat() if rng.random() < 0.1 else None
            jobs.append((rng.choice(unpaced), schedule))
        rng.shuffle(jobs)

        victim = workers[0]
        assert victim.process is not None
        killed_devices: set[str] = set()

        def kill_mid_run() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                sent = _fetch(url, "SELECT count(*) AS n FROM sandbox_deliveries")[0]["n"]
                if sent >= MESSAGES // 4:
                    break
                time.sleep(0.2)
            rows = _fetch(
                url,
                "SELECT public_id FROM devices WHERE lease_owner LIKE $1",
                f"%:{victim.process.pid}:%",  # type: ignore[union-attr]  # started above
            )
            killed_devices.update(row["public_id"] for row in rows)
            victim.kill()

        killer = threading.Thread(target=kill_mid_run)
        killer.start()
        acked = _send_all(apis, jobs)
        killer.join()
        assert killed_devices, "the killed worker owned no device: nothing was tested"

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = _fetch(
                url,
                "SELECT count(*) AS n FROM messages WHERE status NOT IN ('delivered', 'read')",
            )[0]["n"]
            if waiting == 0:
                break
            time.sleep(0.5)

        _check_outcome(url, acked, killed_devices, set(paced))
        # The dead worker's devices now belong to the live ones.
        owners = _fetch(url, "SELECT public_id, lease_owner FROM devices")
        live = {f":{w.process.pid}:" for w in workers[1:] if w.process is not None}
        for row in owners:
            assert any(pid in (row["lease_owner"] or "") for pid in live), row
    finally:
        for process in [*workers, *apis]:
            process.stop()


def _check_outcome(url: str, acked: list[str], killed_devices: set[str], paced: set[str]) -> None:
    assert len(acked) == MESSAGES
    rows = _fetch(
        url,
        """
        SELECT m.message_id, m.status, d.public_id, s.send_count, s.delivered_at
        FROM messages m
        JOIN devices d ON d.id = m.device_id
        LEFT JOIN sandbox_deliveries s ON s.message_id = m.message_id
        """,
    )
    by_id = {row["message_id"]: row for row in rows}
    # Every acknowledged message exists and was delivered; nothing else exists.
    assert set(by_id) == set(acked)
    undelivered = [row for row in rows if row["send_count"] is None]
    assert undelivered == []
    # Sent twice only where the killed worker had it in flight: one per device at most.
    resent = [row for row in rows if row["send_count"] > 1]
    assert all(row["send_count"] == 2 for row in resent)
    assert {row["public_id"] for row in resent} <= killed_devices
    assert len(resent) == len({row["public_id"] for row in resent})

    # Pacing held across workers: consecutive deliveries of a paced device.
    for device in paced:
        times = sorted(row["delivered_at"] for row in rows if row["public_id"] == device)
        assert len(times) == MESSAGES_PER_PACED_DEVICE
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= MIN_INTERVAL_MS, (device, gaps)


def test_a_worker_joining_under_load_gets_its_share_of_the_devices(
    cluster_database: str, tmp_path: Path
) -> None:
    """A worker that started first holds every device; one joining mid-load gets half."""
    url = cluster_database
    api = KurirProcess(url, tmp_path, args=("--no-dispatch",), env=LEASE_ENV).start()
    workers: list[KurirProcess] = []
    try:
        account_id = _fetch(url, "SELECT id FROM accounts WHERE name = 'default'")[0]["id"]
        # The bootstrap device has no pacing: only these ten stay busy for seconds.
        devices = add_sandbox_devices(
            url, account_id, 10, min_interval_ms=40, max_interval_ms=50, prefix="busy"
        )
        acked = _send_all([api], [(device, None) for device in devices for _ in range(100)])
        first = KurirProcess(url, tmp_path, command="worker", env=LEASE_ENV).start()
        workers.append(first)
        _wait_for(lambda: _owned_by(url, first) == 11, "the first worker to own every device")

        second = KurirProcess(url, tmp_path, command="worker", env=LEASE_ENV).start()
        workers.append(second)
        # A renewal comes every second (the lease is 3 s); draining takes one send.
        _wait_for(lambda: _owned_by(url, second) >= 5, "the second worker to get its share")
        assert _owned_by(url, first) >= 5
        left = _fetch(url, "SELECT count(*) AS n FROM messages WHERE status <> 'delivered'")
        assert left[0]["n"] > 0, "the load was over before the handover: nothing was tested"

        _wait_for(
            lambda: (
                _fetch(url, "SELECT count(*) AS n FROM sandbox_deliveries")[0]["n"] == len(acked)
            ),
            "every message to be delivered",
            timeout=60,
        )
        rows = _fetch(
            url,
            """
            SELECT d.public_id, s.send_count, s.delivered_at FROM sandbox_deliveries s
            JOIN devices d ON d.id = s.device_id
            """,
        )
        assert {row["send_count"] for row in rows} == {1}
        for device in devices:  # the pace held through the handover
            times = sorted(row["delivered_at"] for row in rows if row["public_id"] == device)
            assert min(b - a for a, b in itertools.pairwise(times)) >= 40
    finally:
        for process in [*workers, api]:
            process.stop()


def _owned_by(url: str, worker: KurirProcess) -> int:
    assert worker.process is not None
    pattern = f"%:{worker.process.pid}:%"
    rows = _fetch(url, "SELECT count(*) AS n FROM devices WHERE lease_owner LIKE $1", pattern)
    count: int = rows[0]["n"]
    return count


def _wait_for(condition: Callable[[], bool], what: str, *, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def test_a_lone_worker_sends_scheduled_messages_on_time(
    cluster_database: str, tmp_path: Path
) -> None:
    """API and worker in separate processes: NOTIFY and the due-time timer, not polling."""
    url = cluster_database
    api = KurirProcess(url, tmp_path, args=("--no-dispatch",)).start()
    worker = KurirProcess(url, tmp_path, command="worker").start()
    try:
        _wait_for(lambda: _owned_by(url, worker) == 1, "the worker to take the device")
        due = datetime.now(UTC) + timedelta(seconds=1.5)
        acked = _send_all([api], [(api.device_id, due.isoformat())] * 3)
        _wait_for(
            lambda: _fetch(url, "SELECT count(*) AS n FROM sandbox_deliveries")[0]["n"] == 3,
            "the scheduled messages to go out",
            timeout=10,
        )
        rows = _fetch(url, "SELECT message_id, due_at, sent_at FROM messages")
        assert {row["message_id"] for row in rows} == set(acked)
        for row in rows:
            assert 0 <= row["sent_at"] - row["due_at"] < 1000, row
    finally:
        worker.stop()
        api.stop()
