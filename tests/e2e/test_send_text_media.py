"""POST /send/text and /send/media against a real server: bodies, answers, and the message.

Each endpoint is sent the bodies real clients send (JSON compact and
pretty-printed, PHP's urlencoded and multipart forms), answers in Alat WA's
shape, stores what it was given under the request's own names, keeps an
Idempotency-Key per endpoint, and takes a schedule. The rules of every field
are in test_send_text_media_rules.py; fetching media in test_media_fetch.py.

Media messages here go to a device of this module's own, with a URL that
never resolves: its worker retries them quietly without holding up the
device the other tests share.
"""

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from kurir.domain.ids import is_message_id
from tests.e2e.contract import (
    BODY_STYLES,
    JAKARTA,
    RECIPIENT,
    UNREACHABLE_URL,
    accepted_id,
    assert_error,
    button_body,
    get_message,
    local_time,
    media_body,
    nothing_stored,
    post_body,
    sandbox_deliveries,
    send_media,
    send_text,
    stored_message_ids,
    text_body,
    wait_for_status,
)
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess

MEDIA_CONTENT = {
    "url": UNREACHABLE_URL,
    "type": "document",
    "caption": "Invoice 0042",
    "filename": "invoice-0042.pdf",
}


@pytest.fixture(scope="module")
def media_tenant(shared_server: KurirProcess) -> Tenant:
    """The device this module's media messages go to."""
    return provision_tenant(shared_server.database_url, device_phone="628155555555")


@pytest.fixture(scope="module")
def media_http(shared_server: KurirProcess, media_tenant: Tenant) -> Iterator[httpx.Client]:
    with shared_server.client(media_tenant.api_key) as client:
        yield client


# -- the bodies clients send ---------------------------------------------------------------------


def _assert_success(response: httpx.Response, server_phone: str) -> str:
    """Alat WA's answer, exactly: its fields in its order; the message id."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content.startswith(b'{"status":"ok","message_id":"')
    body = response.json()
    assert body == {
        "status": "ok",
        "message_id": body["message_id"],
        "from": server_phone,
        "to": RECIPIENT,
        "message": "Success",
    }
    assert list(body) == ["status", "message_id", "from", "to", "message"]
    assert is_message_id(body["message_id"])
    message_id: str = body["message_id"]
    return message_id


@pytest.mark.parametrize("style", BODY_STYLES)
def test_a_text_in_every_body_style_is_accepted_and_stored_as_sent(
    shared_server: KurirProcess, http: httpx.Client, style: str
) -> None:
    body = text_body(shared_server.device_id, message="Halo,\nbarang Anda sudah dikirim 🙂")
    response = post_body(http, "/send/text", style, body)
    message_id = _assert_success(response, shared_server.device_phone)
    # Answered after the commit: the row is there the moment the answer is.
    assert message_id in stored_message_ids(shared_server.database_url)
    data = get_message(http, message_id)
    assert (data["type"], data["to"]) == ("text", RECIPIENT)
    assert data["device"] == shared_server.device_id
    assert data["content"] == {"message": "Halo,\nbarang Anda sudah dikirim 🙂"}


@pytest.mark.parametrize("style", BODY_STYLES)
def test_media_in_every_body_style_is_accepted_and_stored_as_sent(
    media_http: httpx.Client, media_tenant: Tenant, style: str
) -> None:
    body = media_body(media_tenant.device_id)
    response = post_body(media_http, "/send/media", style, body)
    message_id = _assert_success(response, media_tenant.device_phone)
    data = get_message(media_http, message_id)
    assert (data["type"], data["to"]) == ("media", RECIPIENT)
    assert data["content"] == MEDIA_CONTENT


@pytest.mark.parametrize("style", ["json", "urlencoded", "multipart"])
def test_media_with_only_a_url_leaves_the_rest_out(
    media_http: httpx.Client, media_tenant: Tenant, style: str
) -> None:
    body = {"device": media_tenant.device_id, "phone": "08111111111", "url": UNREACHABLE_URL}
    message_id = accepted_id(post_body(media_http, "/send/media", style, body))
    assert get_message(media_http, message_id)["content"] == {"url": UNREACHABLE_URL}


@pytest.mark.parametrize("style", ["json", "urlencoded", "multipart"])
def test_empty_optional_fields_are_not_given(
    media_http: httpx.Client, media_tenant: Tenant, style: str
) -> None:
    """PHP forms send every field, the ones left blank as empty strings."""
    body = media_body(media_tenant.device_id, type="", caption="", filename=" ", schedule="")
    message_id = accepted_id(post_body(media_http, "/send/media", style, body))
    data = get_message(media_http, message_id)
    assert data["content"] == {"url": UNREACHABLE_URL}
    assert data["scheduled_for"] == data["timestamps"]["created"]  # now, not scheduled


@pytest.mark.parametrize(
    ("changes", "content"),
    [
        pytest.param(
            {"type": "Image", "caption": "  Foto \n", "filename": " foto.jpg "},
            {"type": "image", "caption": "Foto", "filename": "foto.jpg"},
            id="type in any case, texts trimmed",
        ),
        pytest.param(
            {"type": "audio", "caption": None, "filename": None},
            {"type": "audio"},
            id="audio, null caption and filename",
        ),
        pytest.param(
            # 1025 units as sent, 1024 in NFC: the limit counts what is stored.
            {"type": "video", "caption": "Cafe\u0301\nBaris 2" + "c" * 1012},
            {
                "type": "video",
                "caption": "Caf\u00e9\nBaris 2" + "c" * 1012,
                "filename": "invoice-0042.pdf",
            },
            id="caption of 1024 in NFC, line breaks kept",
        ),
    ],
)
def test_media_fields_are_stored_as_the_recipient_will_see_them(
    media_http: httpx.Client,
    media_tenant: Tenant,
    changes: dict[str, object],
    content: dict[str, object],
) -> None:
    message_id = accepted_id(send_media(media_http, media_tenant.device_id, **changes))
    assert get_message(media_http, message_id)["content"] == {"url": UNREACHABLE_URL, **content}


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("HTTPS://Media.Invalid/a b.pdf?v=2", "https://media.invalid/a%20b.pdf?v=2"),
        ("  http://media.invalid:8080/x.pdf  ", "http://media.invalid:8080/x.pdf"),
        ("https://user:secret@media.invalid/x.pdf", "https://user:secret@media.invalid/x.pdf"),
    ],
)
def test_the_url_is_stored_normalised(
    media_http: httpx.Client, media_tenant: Tenant, url: str, stored: str
) -> None:
    message_id = accepted_id(send_media(media_http, media_tenant.device_id, url=url))
    assert get_message(media_http, message_id)["content"]["url"] == stored


def test_a_phone_sent_as_a_json_number_is_read(
    shared_server: KurirProcess, http: httpx.Client, media_http: httpx.Client, media_tenant: Tenant
) -> None:
    text = send_text(http, shared_server.device_id, phone=628111111111)
    media = send_media(media_http, media_tenant.device_id, phone=628111111111)
    accepted_id(text)
    accepted_id(media)
    assert text.json()["to"] == media.json()["to"] == RECIPIENT


# -- the sandbox delivers a text -----------------------------------------------------------------


def test_the_sandbox_delivers_a_text_once(shared_server: KurirProcess, http: httpx.Client) -> None:
    recipient = "62812" + "".join(secrets.choice("0123456789") for _ in range(7))
    response = send_text(http, shared_server.device_id, phone=recipient, message=" Halo ")
    message_id = accepted_id(response)
    data = wait_for_status(http, message_id, "delivered")
    assert data["attempts"] == 1
    assert data["last_error"] is None
    assert list(data["timestamps"]) == ["created", "sending", "sent", "delivered"]
    [delivery] = [
        item
        for item in sandbox_deliveries(http, shared_server.device_id)
        if item["message_id"] == message_id
    ]
    assert delivery == {
        "message_id": message_id,
        "to": recipient,
        "type": "text",
        "content": {"message": "Halo"},
        "delivered_at": delivery["delivered_at"],
        "sends": 1,
    }
    assert delivery["delivered_at"] == data["timestamps"]["delivered"]


# -- Idempotency-Key, per endpoint ----------------------------------------------------------------


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"order-{secrets.token_hex(6)}"}


@pytest.mark.parametrize("path", ["/send/text", "/send/media"])
def test_a_retry_with_the_same_key_is_answered_as_the_first(
    shared_server: KurirProcess,
    http: httpx.Client,
    media_http: httpx.Client,
    media_tenant: Tenant,
    path: str,
) -> None:
    client, body = (
        (http, text_body(shared_server.device_id))
        if path == "/send/text"
        else (media_http, media_body(media_tenant.device_id))
    )
    key = _key()
    before = stored_message_ids(shared_server.database_url)
    first = client.post(path, json=body, headers=key)
    message_id = accepted_id(first)
    retry = client.post(path, json=body, headers=key)
    assert (retry.status_code, retry.content) == (200, first.content)
    # The same fields as a form are the same request: what is compared is what they say.
    form = client.post(path, data={name: str(value) for name, value in body.items()}, headers=key)
    assert (form.status_code, form.content) == (200, first.content)
    assert stored_message_ids(shared_server.database_url) - before == {message_id}


@pytest.mark.parametrize(
    ("path", "changes"),
    [
        pytest.param("/send/text", {"message": "Pesan lain"}, id="text: other message"),
        pytest.param("/send/text", {"phone": "628133333333"}, id="text: other recipient"),
        pytest.param("/send/text", {"schedule": "2020-01-01 00:00:00"}, id="text: a schedule"),
        pytest.param("/send/media", {"url": "https://media.invalid/b.pdf"}, id="media: other url"),
        pytest.param("/send/media", {"type": "image"}, id="media: other type"),
        pytest.param("/send/media", {"caption": "Lain"}, id="media: other caption"),
        pytest.param("/send/media", {"filename": "b.pdf"}, id="media: other filename"),
    ],
)
def test_the_same_key_with_another_body_is_refused_with_409(
    shared_server: KurirProcess,
    http: httpx.Client,
    media_http: httpx.Client,
    media_tenant: Tenant,
    path: str,
    changes: dict[str, object],
) -> None:
    client, build, device = (
        (http, text_body, shared_server.device_id)
        if path == "/send/text"
        else (media_http, media_body, media_tenant.device_id)
    )
    key = _key()
    message_id = accepted_id(client.post(path, json=build(device), headers=key))
    with nothing_stored(shared_server):
        response = client.post(path, json=build(device, **changes), headers=key)
    assert_error(
        response,
        409,
        f"Idempotency-Key was already used for a different request (message {message_id})",
    )


def test_a_key_used_on_one_endpoint_is_refused_on_the_others(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    device = shared_server.device_id
    key = _key()
    message_id = accepted_id(http.post("/send/text", json=text_body(device), headers=key))
    refused = f"Idempotency-Key was already used for a different request (message {message_id})"
    with nothing_stored(shared_server):
        as_button = http.post("/send/button", json=button_body(device), headers=key)
        as_media = http.post("/send/media", json=media_body(device), headers=key)
    assert_error(as_button, 409, refused)
    assert_error(as_media, 409, refused)


# -- schedule -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/send/text", "/send/media"])
def test_a_scheduled_message_waits_and_can_be_cancelled(
    shared_server: KurirProcess, http: httpx.Client, path: str
) -> None:
    """Scheduled on the shared device: a media message an hour ahead is never fetched here."""
    device = shared_server.device_id
    due = (datetime.now(JAKARTA) + timedelta(hours=1)).replace(microsecond=0)
    body = (text_body if path == "/send/text" else media_body)(device, schedule=local_time(due))
    message_id = accepted_id(http.post(path, json=body))
    data = get_message(http, message_id)
    assert data["status"] == "scheduled"
    assert data["scheduled_for"] == due.isoformat(timespec="milliseconds")
    assert (data["attempts"], list(data["timestamps"])) == (0, ["created"])
    assert http.delete(f"/message/{message_id}").json()["message"] == "Cancelled"
    assert get_message(http, message_id)["status"] == "cancelled"


def test_a_text_scheduled_in_the_past_goes_out_now(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    past = local_time(datetime.now(JAKARTA) - timedelta(days=1))
    message_id = accepted_id(send_text(http, shared_server.device_id, schedule=past))
    assert wait_for_status(http, message_id, "delivered")["type"] == "text"


@pytest.mark.parametrize("path", ["/send/text", "/send/media"])
def test_a_schedule_that_is_not_a_time_is_refused(
    shared_server: KurirProcess, http: httpx.Client, path: str
) -> None:
    body = (text_body if path == "/send/text" else media_body)(
        shared_server.device_id, schedule="besok pagi"
    )
    with nothing_stored(shared_server):
        response = http.post(path, json=body)
    assert_error(
        response,
        422,
        "schedule must be a date and time as 'Y-m-d H:i:s' (for example 2026-12-31 09:30:00) "
        "or ISO 8601, got 'besok pagi'",
    )
