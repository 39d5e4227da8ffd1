"""The Graph API stand-in posts webhooks as Meta does: its envelope, signed, replayable.

A real receiver on loopback keeps each request byte for byte; signatures are
checked with ``hmac`` on those bytes, and payloads are compared with the
recorded ones in ``tests/support/testdata/cloud``.
"""

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.integration.graph_payload_cases import BUTTONS, LIST, TEXT, changed
from tests.support.graph_data import fixture
from tests.support.graph_standin import GraphStandin
from tests.support.loopback import serve

VERIFY_TOKEN = "kurir-verify-token"


class Receiver:
    """A webhook endpoint that keeps every POST as it came and answers Meta's GET check."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.app = Starlette(routes=[Route("/webhook", self.handle, methods=["GET", "POST"])])

    async def handle(self, request: Request) -> Response:
        if request.method == "GET":
            params = request.query_params
            if (
                params.get("hub.mode") == "subscribe"
                and params.get("hub.verify_token") == VERIFY_TOKEN
            ):
                return PlainTextResponse(params["hub.challenge"])
            return PlainTextResponse("wrong verify token", status_code=403)
        self.received.append((await request.body(), dict(request.headers.items())))
        return PlainTextResponse("EVENT_RECEIVED")


@pytest.fixture
def receiver(graph: GraphStandin) -> Iterator[Receiver]:
    """A receiver, set as the stand-in's webhook URL."""
    endpoint = Receiver()
    with serve(endpoint.app) as base_url:
        graph.webhooks.url = f"{base_url}/webhook"
        yield endpoint


def accepted(graph: GraphStandin, payload: dict[str, Any]) -> str:
    """Send ``payload`` through the stand-in; the wamid it was given."""
    response = httpx.post(
        f"{graph.base_url}/v23.0/{graph.phone.id}/messages",
        json=payload,
        headers={"Authorization": f"Bearer {graph.access_token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    wamid: str = response.json()["messages"][0]["id"]
    return wamid


def value(payload: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]
    return found


def expected_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Shapes


@pytest.mark.parametrize(
    ("status", "error_code"),
    [("sent", None), ("delivered", None), ("read", None), ("failed", 131047)],
)
def test_a_status_webhook_is_shaped_as_recorded(
    graph: GraphStandin, status: str, error_code: int | None
) -> None:
    expected = fixture(f"webhook_status_{status}.json")
    recorded = value(expected)["statuses"][0]
    wamid = accepted(graph, TEXT)
    payload = graph.status(
        wamid, status, error_code=error_code, timestamp=int(recorded["timestamp"])
    )
    built = value(payload)["statuses"][0]
    # The ids differ from the recording's: the message's own, and its conversation's.
    assert built["id"] == wamid
    built["id"] = recorded["id"]
    if "conversation" in built:
        assert re.fullmatch(r"[0-9a-f]{32}", built["conversation"]["id"])
        built["conversation"]["id"] = recorded["conversation"]["id"]
    assert payload == expected


def _text(graph: GraphStandin) -> dict[str, Any]:
    return graph.text_from("628111111111", "Opsi 2 ya, terima kasih", timestamp=1750263801)


def _button_reply(graph: GraphStandin) -> dict[str, Any]:
    wamid = accepted(graph, BUTTONS)
    return graph.button_reply(wamid, "opsi-2", timestamp=1750263801)


def _list_reply(graph: GraphStandin) -> dict[str, Any]:
    row = {"id": "opsi-7", "title": "Opsi 7", "description": "Pengiriman besok pagi"}
    wamid = accepted(graph, changed(LIST, "interactive.action.sections.1.rows.1", row))
    return graph.list_reply(wamid, "opsi-7", timestamp=1750263801)


def _image(graph: GraphStandin) -> dict[str, Any]:
    return graph.media_from(
        "628111111111", "image", "1003383421387256", caption="Bukti transfer", timestamp=1750263801
    )


def _document(graph: GraphStandin) -> dict[str, Any]:
    return graph.media_from(
        "628111111111",
        "document",
        "1230349128231234",
        caption="Faktur Juni",
        filename="faktur-juni.pdf",
        timestamp=1750263801,
    )


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("webhook_message_text.json", _text),
        ("webhook_message_button_reply.json", _button_reply),
        ("webhook_message_list_reply.json", _list_reply),
        ("webhook_message_image.json", _image),
        ("webhook_message_document.json", _document),
    ],
)
def test_an_inbound_message_webhook_is_shaped_as_recorded(
    graph: GraphStandin, name: str, build: Callable[[GraphStandin], dict[str, Any]]
) -> None:
    expected = fixture(name)
    recorded = value(expected)["messages"][0]
    payload = build(graph)
    built = value(payload)["messages"][0]
    # Fresh per message: the message's id, the media hash, the id of the message replied to.
    record = base64.b64decode(built["id"].removeprefix("wamid."))
    assert re.fullmatch(
        rb"\x1c\x18\x0c628111111111\x15\x02\x00\x12\x18\x14[0-9A-F]{20}\x00", record
    )
    built["id"] = recorded["id"]
    media = built.get(built["type"], {})
    if "sha256" in media:
        assert len(base64.b64decode(media["sha256"])) == 32
        media["sha256"] = recorded[built["type"]]["sha256"]
    if "context" in built:
        assert built["context"]["id"] == graph.sent[-1].wamid
        built["context"]["id"] = recorded["context"]["id"]
    assert payload == expected


def test_a_status_names_the_recipient_and_echoes_the_callback_data(graph: GraphStandin) -> None:
    payload = TEXT | {"to": "+62 811-1111-1111", "biz_opaque_callback_data": "kurir:42"}
    wamid = accepted(graph, payload)
    status = value(graph.status(wamid, "delivered"))["statuses"][0]
    assert status["recipient_id"] == "6281111111111"
    assert status["biz_opaque_callback_data"] == "kurir:42"
    first = value(graph.status(wamid, "sent"))["statuses"][0]
    assert first["conversation"]["id"] == status["conversation"]["id"]


def test_webhooks_are_built_only_for_what_was_sent(graph: GraphStandin) -> None:
    text = accepted(graph, TEXT)
    buttons = accepted(graph, BUTTONS)
    with pytest.raises(KeyError):
        graph.status("wamid.unknown", "read")
    with pytest.raises(ValueError, match="needs an error code"):
        graph.status(text, "failed")
    with pytest.raises(ValueError, match="needs an error code"):
        graph.status(text, "read", error_code=131047)
    with pytest.raises(ValueError, match="Graph error"):
        graph.status(text, "failed", error_code=4)
    with pytest.raises(ValueError, match="no interactive button"):
        graph.button_reply(text, "opsi-1")
    with pytest.raises(ValueError, match="no choice"):
        graph.button_reply(buttons, "opsi-9")
    with pytest.raises(ValueError, match="no interactive list"):
        graph.list_reply(buttons, "opsi-1")


# Delivery


def test_a_webhook_is_signed_over_its_raw_body_with_the_app_secret(
    graph: GraphStandin, receiver: Receiver
) -> None:
    payload = graph.text_from("628111111111", "Lihat https://example.com/é 🙏")
    delivery = graph.webhooks.deliver(payload)
    assert (delivery.status, delivery.response) == (200, "EVENT_RECEIVED")
    [(body, headers)] = receiver.received
    assert body == delivery.body
    assert headers["content-type"] == "application/json"
    assert hmac.compare_digest(
        headers["x-hub-signature-256"], expected_signature(body, graph.app_secret)
    )
    assert json.loads(body) == payload
    # As Meta writes it: ASCII only, slashes escaped. A receiver that verified a
    # re-serialisation of the payload instead of these bytes would refuse it.
    assert body.isascii()
    assert b"https:\\/\\/example.com\\/\\u00e9" in body
    reserialised = json.dumps(json.loads(body)).encode()
    assert expected_signature(reserialised, graph.app_secret) != headers["x-hub-signature-256"]


def test_a_forged_webhook_fails_the_check_and_an_unsigned_one_has_no_signature(
    graph: GraphStandin, receiver: Receiver
) -> None:
    payload = graph.text_from("628111111111", "Halo")
    graph.webhooks.deliver(payload, signing="forged")
    graph.webhooks.deliver(payload, signing="missing")
    (forged_body, forged), (_, unsigned) = receiver.received
    assert forged["x-hub-signature-256"].startswith("sha256=")
    assert forged["x-hub-signature-256"] != expected_signature(forged_body, graph.app_secret)
    assert "x-hub-signature-256" not in unsigned


def test_a_replayed_webhook_is_the_same_request_again(
    graph: GraphStandin, receiver: Receiver
) -> None:
    wamid = accepted(graph, TEXT)
    first = graph.webhooks.deliver(graph.status(wamid, "delivered"))
    again = graph.webhooks.replay(first)
    assert (again.body, again.headers, again.url) == (first.body, first.headers, first.url)
    assert receiver.received[0] == receiver.received[1]
    assert graph.webhooks.deliveries == [first, again]


def test_the_subscription_check_passes_only_with_the_verify_token(
    graph: GraphStandin, receiver: Receiver
) -> None:
    passed = graph.webhooks.verify_subscription(VERIFY_TOKEN, challenge="1158201444")
    refused = graph.webhooks.verify_subscription("another-token")
    assert (passed.status_code, passed.text) == (200, "1158201444")
    assert refused.status_code == 403
    assert receiver.received == []


def test_a_webhook_needs_somewhere_to_go(graph: GraphStandin) -> None:
    with pytest.raises(RuntimeError, match="no webhook URL"):
        graph.webhooks.deliver(graph.text_from("628111111111", "Halo"))
