"""What recipients write: a sandbox text reply, read back from GET /messages/inbound.

Each test has an account of its own, so its inbound list holds only what the
test put there. Another account never sees them: see test_isolation.py.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from kurir.domain.ids import is_message_id
from tests.e2e.contract import (
    JAKARTA,
    accepted_id,
    assert_error,
    parse_time,
    post_body,
    send,
    send_text,
    wait_for_status,
)
from tests.support.provision import Tenant, add_sandbox_devices, provision_tenant
from tests.support.server import KurirProcess

SENDER = "628111111111"


@pytest.fixture
def tenant(shared_server: KurirProcess) -> Tenant:
    return provision_tenant(shared_server.database_url)


@pytest.fixture
def tenant_http(shared_server: KurirProcess, tenant: Tenant) -> Iterator[httpx.Client]:
    with shared_server.client(tenant.api_key) as client:
        yield client


def _write(http: httpx.Client, device: str, text: str, phone: str = SENDER) -> None:
    """The recipient ``phone`` writes ``text`` to ``device``."""
    response = http.post(f"/sandbox/{device}/reply", json={"phone": phone, "text": text})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "message": "Message received"}


def _inbound(http: httpx.Client, **params: str | int) -> dict[str, Any]:
    response = http.get("/messages/inbound", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == ["status", "data", "next_cursor"]
    return body


def _texts(body: dict[str, Any]) -> list[str]:
    return [item["text"] for item in body["data"]]


def test_a_text_reply_is_an_inbound_message_of_the_device(
    tenant: Tenant, tenant_http: httpx.Client
) -> None:
    before = datetime.now(JAKARTA) - timedelta(seconds=1)
    # Written as a person writes their number, in a form as a PHP tool sends it.
    response = post_body(
        tenant_http,
        f"/sandbox/{tenant.device_id}/reply",
        "urlencoded",
        {"phone": "0811-1111-111", "text": "  Kapan barangnya\nsampai? 🙂 "},
    )
    assert response.json() == {"status": "ok", "message": "Message received"}
    [item] = _inbound(tenant_http)["data"]
    assert item == {
        "message_id": item["message_id"],
        "device": tenant.device_id,
        "from": SENDER,
        "sender_name": None,
        "type": "text",
        "text": "Kapan barangnya\nsampai? 🙂",
        "media_url": None,
        "quoted_message_id": None,
        "received_at": item["received_at"],
    }
    assert is_message_id(item["message_id"])
    received = parse_time(item["received_at"])
    assert received.utcoffset() == timedelta(hours=7)
    assert before <= received <= datetime.now(JAKARTA) + timedelta(seconds=1)


@pytest.mark.parametrize("style", ["json", "pretty", "multipart"])
def test_a_text_reply_is_read_from_every_body_style(
    tenant: Tenant, tenant_http: httpx.Client, style: str
) -> None:
    body = {"phone": SENDER, "text": "Cafe\u0301 buka?"}
    post_body(tenant_http, f"/sandbox/{tenant.device_id}/reply", style, body)
    assert _texts(_inbound(tenant_http)) == ["Caf\u00e9 buka?"]  # in NFC


_NOT_A_CHOICE = "button must be a button's label or its position (from 1)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": ""}, "text must not be empty"),
        ({"text": " \n "}, "text must not be empty"),
        ({"text": 5}, "text must be a string"),
        ({"text": "t" * 4097}, "text is 4097 characters; at most 4096 are allowed"),
        ({"text": "Halo\x00"}, "text must not hold control or format characters (found U+0000)"),
        ({"text": "\u3164"}, "text must hold a visible character"),
        ({"text": None}, _NOT_A_CHOICE),
        ({}, _NOT_A_CHOICE),
        ({"text": "Halo", "phone": "0811"}, "phone is not a valid phone number: '0811'"),
    ],
)
def test_a_text_reply_breaking_a_rule_is_refused_and_stores_nothing(
    tenant: Tenant, tenant_http: httpx.Client, body: dict[str, object], message: str
) -> None:
    response = tenant_http.post(
        f"/sandbox/{tenant.device_id}/reply", json={"phone": SENDER, **body}
    )
    assert_error(response, 422, message)
    assert _inbound(tenant_http)["data"] == []


def test_the_longest_text_reply_is_kept_whole(tenant: Tenant, tenant_http: httpx.Client) -> None:
    _write(tenant_http, tenant.device_id, "t" * 4096)
    assert _texts(_inbound(tenant_http)) == ["t" * 4096]


def test_a_text_message_has_no_buttons_to_press(tenant: Tenant, tenant_http: httpx.Client) -> None:
    """The sandbox plays every kind: after a text, a button press answers nothing."""
    message_id = accepted_id(send_text(tenant_http, tenant.device_id, phone=SENDER))
    wait_for_status(tenant_http, message_id, "delivered")
    response = tenant_http.post(
        f"/sandbox/{tenant.device_id}/reply", json={"phone": SENDER, "button": 1}
    )
    assert_error(
        response, 409, f"the latest message to {SENDER} ({message_id}) has no buttons to press"
    )
    # Writing back is how a text is answered; it leaves the message as it was.
    _write(tenant_http, tenant.device_id, "Terima kasih")
    assert _texts(_inbound(tenant_http)) == ["Terima kasih"]
    assert wait_for_status(tenant_http, message_id, "delivered")["reply"] is None


def test_a_button_press_is_not_an_inbound_text(tenant: Tenant, tenant_http: httpx.Client) -> None:
    message_id = accepted_id(send(tenant_http, tenant.device_id, phone=SENDER))
    wait_for_status(tenant_http, message_id, "delivered")
    _write(tenant_http, tenant.device_id, "Sebentar")
    pressed = tenant_http.post(
        f"/sandbox/{tenant.device_id}/reply", json={"phone": SENDER, "button": 2}
    )
    assert pressed.json()["message_id"] == message_id
    texts = [item for item in _inbound(tenant_http)["data"] if item["type"] == "text"]
    assert [item["text"] for item in texts] == ["Sebentar"]


# -- paging --------------------------------------------------------------------------------------


def test_the_list_is_newest_first_and_pages_with_before(
    tenant: Tenant, tenant_http: httpx.Client
) -> None:
    for number in range(1, 6):
        _write(tenant_http, tenant.device_id, f"Pesan {number}")
    everything = _inbound(tenant_http)
    assert _texts(everything) == [f"Pesan {number}" for number in range(5, 0, -1)]
    assert everything["next_cursor"] is None
    times = [parse_time(item["received_at"]) for item in everything["data"]]
    assert times == sorted(times, reverse=True)

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["before"] = cursor
        page = _inbound(tenant_http, **params)
        pages.append(_texts(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert pages == [["Pesan 5", "Pesan 4"], ["Pesan 3", "Pesan 2"], ["Pesan 1"]]
    # Pages are read in the order of their messages, not of time: one written meanwhile
    # is on the first page again, and the pages already read stay as they were.
    _write(tenant_http, tenant.device_id, "Pesan 6")
    first = _inbound(tenant_http, limit=2)
    assert _texts(first) == ["Pesan 6", "Pesan 5"]
    assert _texts(_inbound(tenant_http, limit=2, before=first["next_cursor"])) == [
        "Pesan 4",
        "Pesan 3",
    ]


def test_a_last_page_that_is_full_is_followed_by_an_empty_one(
    tenant: Tenant, tenant_http: httpx.Client
) -> None:
    for number in range(1, 3):
        _write(tenant_http, tenant.device_id, f"Pesan {number}")
    full = _inbound(tenant_http, limit=2)
    assert _texts(full) == ["Pesan 2", "Pesan 1"]
    assert full["next_cursor"] is not None
    assert _inbound(tenant_http, limit=2, before=full["next_cursor"]) == {
        "status": "ok",
        "data": [],
        "next_cursor": None,
    }


def test_the_device_filter_lists_one_device(
    shared_server: KurirProcess, tenant: Tenant, tenant_http: httpx.Client
) -> None:
    [other] = add_sandbox_devices(shared_server.database_url, tenant.account_id, 1)
    for number in range(1, 4):
        _write(tenant_http, tenant.device_id, f"Utama {number}")
        _write(tenant_http, other, f"Cabang {number}", phone="628122223333")
    both = _inbound(tenant_http)
    assert [item["device"] for item in both["data"]] == [other, tenant.device_id] * 3
    only = _inbound(tenant_http, device=other)
    assert _texts(only) == ["Cabang 3", "Cabang 2", "Cabang 1"]
    assert {item["from"] for item in only["data"]} == {"628122223333"}
    page = _inbound(tenant_http, device=tenant.device_id, limit=2)
    assert _texts(page) == ["Utama 3", "Utama 2"]
    rest = _inbound(tenant_http, device=tenant.device_id, limit=2, before=page["next_cursor"])
    assert (_texts(rest), rest["next_cursor"]) == (["Utama 1"], None)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"before": "abc"}, 422, "before must be a cursor from a previous answer"),
        ({"before": "-1"}, 422, "before must be a cursor from a previous answer"),
        ({"before": "1.5"}, 422, "before must be a cursor from a previous answer"),
        ({"before": "9" * 5000}, 422, "before must be a cursor from a previous answer"),
        ({"limit": "0"}, 422, "limit must be a whole number from 1 to 500"),
        ({"limit": "501"}, 422, "limit must be a whole number from 1 to 500"),
        ({"limit": "x"}, 422, "limit must be a whole number from 1 to 500"),
        ({"device": "dev-unknown"}, 404, "device 'dev-unknown' not found"),
    ],
)
def test_a_bad_query_is_refused(
    tenant_http: httpx.Client, params: dict[str, str], status: int, message: str
) -> None:
    assert_error(tenant_http.get("/messages/inbound", params=params), status, message)


def test_the_list_needs_a_key(shared_server: KurirProcess) -> None:
    response = httpx.get(f"{shared_server.base_url}/messages/inbound")
    assert_error(response, 401, "Unauthorized")
