"""No event is lost to a receiver outage or a SIGKILL of Kurir; none is repeated after a 2xx.

The receiver is down while messages are sent, so their events pile up in
the outbox; Kurir is killed with SIGKILL and started again; the receiver
comes back. Every event arrives, each under one webhook-id: the receiver was
down at the kill, so nothing was in flight and nothing may arrive twice.
Then a PostgreSQL cluster (an API process and two workers) loses a worker in
the middle of deliveries to a slow receiver: everything still arrives, and
only what the killed worker had in flight may arrive again, with its id.
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest

from tests.e2e.webhook_receiving import (
    DELIVERING_ENV,
    WAIT_S,
    endpoint,
    message_kinds,
    register,
    repeats,
    status_kinds,
    wait_for_kinds,
)
from tests.support.databases import (
    DATABASE_KINDS,
    PostgresUnavailable,
    database_of_kind,
    postgres_database,
)
from tests.support.gateway import send, settled, wait_for
from tests.support.receiver import Receiver
from tests.support.server import KurirProcess

MESSAGES = 6
#: The statuses of a sandbox message nobody reads, each one event.
STATUSES = ("Sending", "Sent", "Delivered")


@pytest.fixture(params=DATABASE_KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_of_kind(request.param, tmp_path) as url:
        yield url


def test_events_survive_an_outage_and_a_kill_and_arrive_once(database: str, tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.up()
    receiver.down()  # it has its port now, and refuses connections on it
    kurir = KurirProcess(database, tmp_path, env=DELIVERING_ENV).start()
    try:
        with kurir.client() as http:
            webhook = register(http, receiver, ("message.status",))
            sent = [send(http, kurir.device_id, f"Pesan {n}") for n in range(MESSAGES)]
            for message_id in sent:
                settled(http, message_id, timeout=30)
            expected = status_kinds(sent, STATUSES)
            # Every event is in the outbox, tried at least once and waiting.
            wait_for(
                lambda: endpoint(http, webhook)["pending_deliveries"] == len(expected),
                timeout=WAIT_S,
                what="the events to pile up",
            )
        kurir.kill()
        kurir = KurirProcess(database, tmp_path, env=DELIVERING_ENV).start()
        receiver.up()
        wait_for_kinds(receiver, expected, what="every event after the restart")
        with kurir.client() as http:
            wait_for(
                lambda: endpoint(http, webhook)["pending_deliveries"] == 0,
                timeout=WAIT_S,
                what="the outbox to empty",
            )
        # Killed once more with everything delivered: nothing comes again.
        kurir.kill()
        kurir = KurirProcess(database, tmp_path, env=DELIVERING_ENV).start()
        time.sleep(2)  # twice the longest retry pause
        assert message_kinds(receiver) == expected
        assert len(receiver.snapshot()) == len(expected)
        assert repeats(receiver) == {}
        assert receiver.refused == 0
    finally:
        kurir.stop()
        receiver.down()


CLUSTER_MESSAGES = 30
CLUSTER_CONCURRENCY = 4
CLUSTER_ENV = {
    **DELIVERING_ENV,
    "KURIR_WEBHOOK_CONCURRENCY": str(CLUSTER_CONCURRENCY),
    "KURIR_DEVICE_LEASE_SECONDS": "3",
    "KURIR_MESSAGE_LEASE_SECONDS": "3",
}


@pytest.mark.postgres
def test_a_cluster_loses_a_worker_mid_delivery_and_no_event(tmp_path: Path) -> None:
    try:
        with postgres_database() as url:
            _cluster_run(url, tmp_path)
    except PostgresUnavailable as error:
        pytest.skip(str(error))


def _leased_by(url: str, pid: int) -> set[str]:
    """The webhook-ids of the deliveries process ``pid`` held when it died."""

    async def read() -> set[str]:
        connection = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
        try:
            rows = await connection.fetch(
                "SELECT public_id FROM webhook_deliveries"
                " WHERE status = 'delivering' AND lease_owner LIKE $1",
                f"%:{pid}:%",
            )
        finally:
            await connection.close()
        return {row["public_id"] for row in rows}

    return asyncio.run(read())


def _cluster_run(url: str, tmp_path: Path) -> None:
    api = KurirProcess(url, tmp_path, env=CLUSTER_ENV, args=("--no-dispatch",)).start()
    workers: list[KurirProcess] = []
    # Each answer comes late: the killed worker surely has deliveries in flight.
    with Receiver(answer_delay=0.3) as receiver:
        try:
            with api.client() as http:
                register(http, receiver, ("message.status",))
                workers = [
                    KurirProcess(url, tmp_path, command="worker", env=CLUSTER_ENV).start()
                    for _ in range(2)
                ]
                sent = [send(http, api.device_id, f"Pesan {n}") for n in range(CLUSTER_MESSAGES)]
                expected = status_kinds(sent, STATUSES)
                wait_for(
                    lambda: len(receiver.ids()) >= len(expected) // 4,
                    timeout=WAIT_S,
                    what="deliveries to be under way",
                )
                victim = workers[0]
                assert victim.process is not None
                victim.kill()
                held = _leased_by(url, victim.process.pid)
                assert held, "the killed worker held no delivery: nothing was tested"
                # What the killed worker held comes back when its leases run out
                # (the attempt's timeout and 30 s more).
                wait_for_kinds(receiver, expected, what="every event after the kill")
                for message_id in sent:
                    settled(http, message_id, timeout=WAIT_S)
            assert message_kinds(receiver) == expected
            again = repeats(receiver)
            # Only what the killed worker held at its death came again (sent, or
            # answered but not yet recorded), each once more.
            assert set(again) <= held, (again, held)
            assert set(again.values()) <= {2}
            assert receiver.refused == 0
        finally:
            for process in [*workers, api]:
                process.stop()
