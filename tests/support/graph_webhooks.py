"""Webhook payloads as Meta posts them, and how it serialises and signs them.

Every notification is one envelope: ``object: whatsapp_business_account``,
one ``entry`` per business account, one ``change`` (``field: messages``)
whose ``value`` names the business number (``metadata``) and carries either
``statuses`` (what became of a message the business sent) or ``contacts``
and ``messages`` (what a user sent). Meta signs the raw body with the app
secret (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256>``); the body is
serialised as Graph serialises everything (`graph_json`), so a receiver
that verifies a re-serialised body instead of the bytes it got will fail.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from tests.support.graph_data import PhoneNumber, graph_json, status_error

#: How a webhook is signed: with the app secret, with another secret, or not at all.
Signing = Literal["valid", "forged", "missing"]
MediaKind = Literal["image", "video", "audio", "document"]

MIME_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
}

#: What a status webhook can report about a sent message.
STATUSES = ("sent", "delivered", "read", "failed")


def envelope(waba_id: str, phone: PhoneNumber, value: dict[str, Any]) -> dict[str, Any]:
    metadata = {"display_phone_number": phone.digits, "phone_number_id": phone.id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def status_value(
    wamid: str,
    status: str,
    recipient_id: str,
    timestamp: int,
    *,
    conversation_id: str,
    error_code: int | None = None,
    biz_opaque_callback_data: str | None = None,
) -> dict[str, Any]:
    """``statuses`` for one message: a free service reply, or a failure with ``errors``."""
    if status not in STATUSES:
        raise ValueError(f"no such status: {status}")
    if (status == "failed") != (error_code is not None):
        raise ValueError("a failed status needs an error code, and only a failed one has one")
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient_id,
    }
    if biz_opaque_callback_data is not None:
        item["biz_opaque_callback_data"] = biz_opaque_callback_data
    if error_code is not None:
        item["errors"] = [status_error(error_code)]
    else:
        conversation: dict[str, Any] = {"id": conversation_id}
        if status == "sent":
            # Only the first status of a conversation says when its window closes.
            conversation["expiration_timestamp"] = str(timestamp + 24 * 3600)
        conversation["origin"] = {"type": "service"}
        item["conversation"] = conversation
        item["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }
    return {"statuses": [item]}


def inbound_value(name: str, wa_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """``contacts`` (who wrote) and ``messages`` (what they wrote)."""
    return {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}


def _message(wa_id: str, wamid: str, timestamp: int, kind: str) -> dict[str, Any]:
    return {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": kind}


def text_message(wa_id: str, wamid: str, timestamp: int, body: str) -> dict[str, Any]:
    return _message(wa_id, wamid, timestamp, "text") | {"text": {"body": body}}


def reply_message(
    phone: PhoneNumber,
    wa_id: str,
    wamid: str,
    timestamp: int,
    *,
    replied_to: str,
    reply: dict[str, str],
    kind: str,
) -> dict[str, Any]:
    """A tap on a reply button (``button_reply``) or a list row (``list_reply``).

    ``context`` names the business number and the message whose button or
    row was tapped, which is how a reply is matched to what was sent.
    """
    context = {"from": phone.digits, "id": replied_to}
    message = {"context": context} | _message(wa_id, wamid, timestamp, "interactive")
    return message | {"interactive": {"type": kind, kind: reply}}


def pick(choices: list[dict[str, str]], choice_id: str, wamid: str) -> dict[str, str]:
    """What the user saw for ``choice_id``: its id, title and (for list rows) description."""
    for choice in choices:
        if choice["id"] == choice_id:
            return dict(choice)
    raise ValueError(f"message {wamid} offers no choice {choice_id!r}")


def media_message(
    wa_id: str,
    wamid: str,
    timestamp: int,
    kind: MediaKind,
    media_id: str,
    *,
    caption: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """An image, video, audio or document: Meta sends its media id and hash, never the file."""
    media: dict[str, Any] = {}
    if caption is not None:
        media["caption"] = caption
    if filename is not None:
        media["filename"] = filename
    media["mime_type"] = MIME_TYPES[kind]
    media["sha256"] = base64.b64encode(secrets.token_bytes(32)).decode()
    media["id"] = media_id
    if kind == "audio":
        media["voice"] = False
    return _message(wa_id, wamid, timestamp, kind) | {kind: media}


def signature(body: bytes, app_secret: str) -> str:
    """``X-Hub-Signature-256``: HMAC-SHA256 of the raw body, keyed with the app secret."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class WebhookDelivery:
    """A webhook that was posted, and how the receiver answered."""

    url: str
    body: bytes
    headers: dict[str, str]
    status: int
    response: str


class WebhookPoster:
    """Posts webhooks to the app's callback URL as Meta does, and remembers them."""

    def __init__(self, app_secret: str, url: str | None = None) -> None:
        self.app_secret = app_secret
        #: Where webhooks go unless a call names another URL.
        self.url = url
        self.deliveries: list[WebhookDelivery] = []

    def deliver(
        self, payload: dict[str, Any], *, url: str | None = None, signing: Signing = "valid"
    ) -> WebhookDelivery:
        """POST ``payload``, signed as ``signing`` says; the receiver's answer."""
        body = graph_json(payload)
        headers = {"content-type": "application/json", "user-agent": "facebookexternalua"}
        if signing != "missing":
            secret = self.app_secret if signing == "valid" else f"not-{self.app_secret}"
            headers["x-hub-signature-256"] = signature(body, secret)
        return self._post(url or self._url(), body, headers)

    def replay(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """Post the same bytes with the same headers again, as Meta does when it retries."""
        return self._post(delivery.url, delivery.body, delivery.headers)

    def verify_subscription(
        self, verify_token: str, *, url: str | None = None, challenge: str | None = None
    ) -> httpx.Response:
        """Meta's check when a callback URL is set: the receiver must echo ``hub.challenge``."""
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": verify_token,
            "hub.challenge": challenge or str(secrets.randbelow(10**9)),
        }
        return httpx.get(url or self._url(), params=params, timeout=10)

    def _url(self) -> str:
        if self.url is None:
            raise RuntimeError("no webhook URL: set webhooks.url or pass url=")
        return self.url

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookDelivery:
        response = httpx.post(url, content=body, headers=headers, timeout=10)
        delivery = WebhookDelivery(url, body, headers, response.status_code, response.text)
        self.deliveries.append(delivery)
        return delivery
