"""Scheduled messages go out within one second of their time, across a restart too.

Real server processes and short real delays (one to six seconds ahead).
"""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from tests.support.gateway import (
    at,
    cpu_seconds,
    deliveries,
    message,
    running,
    send,
    settled,
)
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess

JAKARTA = ZoneInfo("Asia/Jakarta")
ON_TIME = timedelta(seconds=1)


def _to_ms(moment: datetime) -> datetime:
    """The server keeps milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _schedule(http: httpx.Client, device: str, due: datetime, text: str) -> tuple[str, datetime]:
    message_id = send(http, device, f"due {text}", schedule=text)
    assert message(http, message_id)["status"] == "scheduled"
    return message_id, _to_ms(due)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _assert_on_time(http: httpx.Client, device: str, scheduled: dict[str, datetime]) -> None:
    """Each message went out at its time or less than a second after it."""
    for message_id, due in scheduled.items():
        data = settled(http, message_id, timeout=10)
        assert data["status"] == "delivered", data
        assert at(data["scheduled_for"]) == due
        sent = at(data["timestamps"]["sent"])
        assert due <= sent < due + ON_TIME, (message_id, due, sent)
    delivered = {item["message_id"]: at(item["delivered_at"]) for item in deliveries(http, device)}
    assert delivered.keys() == scheduled.keys()
    for message_id, due in scheduled.items():
        assert due <= delivered[message_id] < due + ON_TIME, (message_id, due, delivered)


def test_scheduled_messages_go_out_within_a_second_also_after_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    tenant = provision_tenant(database_url)
    device = tenant.device_id
    with running(database_url, tmp_path) as server, server.client(tenant.api_key) as http:
        now = datetime.now(JAKARTA)
        soon = {}
        for due in (now + timedelta(seconds=s) for s in (1.0, 1.4, 2.0)):
            # ISO 8601 with Jakarta's offset, as a client in Indonesia writes it.
            message_id, soon[message_id] = _schedule(http, device, due, _iso(due))
        utc = now + timedelta(seconds=1.7)
        utc_text = utc.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message_id, soon[message_id] = _schedule(http, device, utc, utc_text)
        # PHP's Y-m-d H:i:s in the server's zone: the next whole second after 1.2 s.
        local = (now + timedelta(seconds=2.2)).replace(microsecond=0)
        message_id, soon[message_id] = _schedule(http, device, local, f"{local:%Y-%m-%d %H:%M:%S}")
        # Due after this process stops and another has started (about two
        # seconds on a busy machine).
        later_at = now + timedelta(seconds=5.5)
        later = {}
        for due in (later_at, later_at + timedelta(milliseconds=300)):
            message_id, later[message_id] = _schedule(http, device, due, _iso(due))

        _assert_on_time(http, device, soon)

    restarted = KurirProcess(database_url, tmp_path).start()
    try:
        assert datetime.now(JAKARTA) < later_at, "the restart took longer than the test allows"
        with restarted.client(tenant.api_key) as http:
            assert {message(http, m)["status"] for m in later} == {"scheduled"}
            _assert_on_time(http, device, {**soon, **later})
    finally:
        restarted.stop()


def test_waiting_for_a_due_time_is_not_a_busy_poll(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    tenant = provision_tenant(sqlite_database_url)
    with running(sqlite_database_url, tmp_path) as server, server.client(tenant.api_key) as http:
        due = datetime.now(JAKARTA) + timedelta(minutes=10)
        send(http, tenant.device_id, "in ten minutes", schedule=_iso(due))
        before = cpu_seconds(server)
        time.sleep(1)  # the window measured, not a wait for something to happen
        used = cpu_seconds(server) - before
    # Idle it sleeps until the due time or the next lease renewal: about 0 ms.
    assert used < 0.05, f"{used:.2f} s of CPU in one idle second"


def test_a_device_added_while_running_sends_at_once(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    provision_tenant(sqlite_database_url)
    # Renewals every 10 s make the wait certain rather than a matter of phase.
    env = {"KURIR_DEVICE_LEASE_SECONDS": "30"}
    with running(sqlite_database_url, tmp_path, **env) as server:
        tenant = provision_tenant(sqlite_database_url)  # as `kurir devices add` would
        with server.client(tenant.api_key) as http:
            message_id = send(http, tenant.device_id, "new device")
            data = settled(http, message_id, timeout=2)
        assert data["status"] == "delivered"
