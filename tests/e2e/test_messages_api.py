"""GET and DELETE /message/{id}, GET /device/list and GET /healthz on a real server."""

import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kurir.domain.ids import new_message_id
from tests.e2e.contract import (
    JAKARTA,
    RECIPIENT,
    accepted_id,
    assert_error,
    deliveries_of,
    get_message,
    local_time,
    parse_time,
    send,
    wait_for_status,
)
from tests.e2e.test_smoke import SEED_BODY
from tests.support.server import KurirProcess

MESSAGE_FIELDS = [
    "message_id",
    "device",
    "from",
    "to",
    "type",
    "status",
    "content",
    "scheduled_for",
    "attempts",
    "last_error",
    "reply",
    "timestamps",
    "broadcast",
]


def _schedule_later(http: httpx.Client, device: str) -> str:
    """A message due in an hour: it stays scheduled (and cancellable) for the test."""
    later = datetime.now(JAKARTA) + timedelta(hours=1)
    return accepted_id(send(http, device, schedule=local_time(later)))


def test_a_message_is_followed_from_acceptance_to_delivery(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    message_id = accepted_id(send(http, shared_server.device_id, phone="08111111111"))
    first = get_message(http, message_id)
    assert first["status"] in ("queued", "sending", "sent", "delivered")

    data = wait_for_status(http, message_id, "delivered")
    assert list(data) == MESSAGE_FIELDS
    assert data == {
        "message_id": message_id,
        "device": shared_server.device_id,
        "from": shared_server.device_phone,
        "to": RECIPIENT,
        "type": "button",
        "status": "delivered",
        "content": {
            "message_header": SEED_BODY["message_header"],
            "message": SEED_BODY["message"],
            "message_footer": SEED_BODY["message_footer"],
            "buttons": SEED_BODY["buttons"],
            "layout": "reply_buttons",
        },
        "scheduled_for": data["timestamps"]["created"],
        "attempts": 1,
        "last_error": None,
        "reply": None,
        "timestamps": data["timestamps"],
        "broadcast": None,
    }
    # Each step of its life, in order, in Jakarta time.
    steps = ["created", "sending", "sent", "delivered"]
    assert list(data["timestamps"]) == steps
    times = [parse_time(data["timestamps"][step]) for step in steps]
    assert times == sorted(times)
    assert all(moment.utcoffset() == timedelta(hours=7) for moment in times)
    assert times[-1] - times[0] < timedelta(seconds=5)
    assert deliveries_of(http, shared_server.device_id, message_id) == 1


def test_a_scheduled_message_can_be_cancelled_and_a_retried_cancel_changes_nothing(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    message_id = _schedule_later(http, shared_server.device_id)
    scheduled = get_message(http, message_id)
    assert (scheduled["status"], scheduled["attempts"]) == ("scheduled", 0)

    cancelled_body = {"status": "ok", "message_id": message_id, "message": "Cancelled"}
    response = http.delete(f"/message/{message_id}")
    assert (response.status_code, response.json()) == (200, cancelled_body)

    cancelled = get_message(http, message_id)
    assert cancelled["status"] == "cancelled"
    assert list(cancelled["timestamps"]) == ["created", "cancelled"]
    assert cancelled["scheduled_for"] == scheduled["scheduled_for"]

    # DELETE is idempotent: a client retrying after a lost answer hears the same.
    retried = http.delete(f"/message/{message_id}")
    assert (retried.status_code, retried.json()) == (200, cancelled_body)
    assert get_message(http, message_id) == cancelled


def test_a_cancelled_message_is_never_sent(shared_server: KurirProcess, http: httpx.Client) -> None:
    due = datetime.now(JAKARTA) + timedelta(seconds=1)
    schedule = due.isoformat(timespec="milliseconds")
    cancelled = accepted_id(send(http, shared_server.device_id, schedule=schedule))
    # A companion due at the same moment shows when the dispatcher has passed that time.
    companion = accepted_id(send(http, shared_server.device_id, schedule=schedule))
    assert http.delete(f"/message/{cancelled}").status_code == 200

    wait_for_status(http, companion, "delivered", timeout=4.0)
    time.sleep(0.2)  # one more dispatcher pass after the companion went out
    assert get_message(http, cancelled)["status"] == "cancelled"
    assert deliveries_of(http, shared_server.device_id, cancelled) == 0


def test_a_sent_message_cannot_be_cancelled(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    message_id = accepted_id(send(http, shared_server.device_id))
    wait_for_status(http, message_id, "delivered")
    assert_error(
        http.delete(f"/message/{message_id}"),
        409,
        f"message {message_id} is already delivered; it can no longer be cancelled",
    )
    assert get_message(http, message_id)["status"] == "delivered"


@pytest.mark.parametrize(
    ("message_id", "shown"),
    [
        ("abc", "'abc'"),
        ("3eb0aaaaaaaaaaaaaaaa", "'3eb0aaaaaaaaaaaaaaaa'"),  # lower case
        ("3EB0AAAAAAAAAAAAAAA", "'3EB0AAAAAAAAAAAAAAA'"),  # 15 hex digits
        ("3EB0AAAAAAAAAAAAAAAAA", "'3EB0AAAAAAAAAAAAAAAAA'"),  # 17 hex digits
        ("3EB0AAAAAAAAAAAAAAAG", "'3EB0AAAAAAAAAAAAAAAG'"),  # not hex
        ("%00", "'\\x00'"),
        ("x" * 100, repr("x" * 40)),
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_malformed_message_id_is_404(
    shared_server: KurirProcess, http: httpx.Client, method: str, message_id: str, shown: str
) -> None:
    assert_error(http.request(method, f"/message/{message_id}"), 404, f"message {shown} not found")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_unknown_message_id_is_404(
    shared_server: KurirProcess, http: httpx.Client, method: str
) -> None:
    message_id = new_message_id()
    assert_error(
        http.request(method, f"/message/{message_id}"), 404, f"message {message_id} not found"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/message/3EB0000000000000ABCD"),
        ("DELETE", "/message/3EB0000000000000ABCD"),
        ("GET", "/device/list"),
        ("GET", "/sandbox/dev-main/messages"),
        ("POST", "/sandbox/dev-main/reply"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "wrong-key"])
def test_every_account_endpoint_needs_the_key(
    shared_server: KurirProcess, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.request(method, f"{shared_server.base_url}{path}", headers=headers)
    assert_error(response, 401, "Unauthorized")


def test_the_device_list_shows_the_accounts_devices(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    deadline = time.monotonic() + 5
    while True:
        response = http.get("/device/list")
        assert response.status_code == 200
        body = response.json()
        [device] = body["data"]
        # The dispatcher inside `kurir serve` takes the device within moments of starting.
        if device["state"] == "connected" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert list(body) == ["status", "data"]
    assert body["status"] == "ok"
    assert device == {
        "device": shared_server.device_id,
        "phone": shared_server.device_phone,
        "transport": "sandbox",
        "state": "connected",
        "min_interval_ms": 0,
        "max_interval_ms": 0,
        "created_at": device["created_at"],
        "profile": None,  # the sandbox has no provider to describe the number
    }
    created = parse_time(device["created_at"])
    assert created.utcoffset() == timedelta(hours=7)
    assert created <= datetime.now(JAKARTA)


def test_a_device_no_worker_holds_is_idle(sqlite_database_url: str, tmp_path: Path) -> None:
    server = KurirProcess(sqlite_database_url, tmp_path, args=("--no-dispatch",)).start()
    try:
        with server.client() as http:
            [device] = http.get("/device/list").json()["data"]
    finally:
        server.stop()
    assert (device["device"], device["state"]) == (server.device_id, "idle")


def test_healthz_needs_no_key(shared_server: KurirProcess) -> None:
    response = httpx.get(f"{shared_server.base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
