"""What each call of the clients sends: a `Call` built once for `Client` and `AsyncClient`.

The sync and async clients differ only in how they wait; the path, body,
query and answer type of every call are built here, beside the typed
arguments their methods take.
"""

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, NamedTuple, NotRequired, TypedDict, TypeVar
from urllib.parse import quote

import msgspec

from kurir.api.broadcast_types import (
    BroadcastActionResponse,
    BroadcastCreatedResponse,
    BroadcastListResponse,
    BroadcastResponse,
    CustomerCreatedResponse,
    CustomerDeletedResponse,
    CustomerListResponse,
    MessageListResponse,
)
from kurir.api.types import (
    CheckNumbersResponse,
    DeviceListResponse,
    InboundListResponse,
    PairingResponse,
    SendResponse,
)
from kurir.api.webhook_types import (
    DeliveryListResponse,
    RedeliverResponse,
    WebhookListResponse,
    WebhookResponse,
    WebhookSecretResponse,
)

#: The response struct a request's answer decodes into.
Answer = TypeVar("Answer", bound=msgspec.Struct)


class Call(NamedTuple, Generic[Answer]):
    """One call to the API, and the struct its answer decodes into."""

    method: str
    path: str
    answer: type[Answer]
    #: httpx's keyword arguments: json, params, headers.
    options: Mapping[str, Any] = {}


def media_path(media_url: str) -> str:
    """An inbound ``media_url``, checked to be one: the key goes to no other path."""
    parts = media_url.split("/")
    if len(parts) != 5 or parts[:3] != ["", "messages", "inbound"] or parts[4] != "media":
        raise ValueError(f"not an inbound message's media_url: {media_url[:80]!r}")
    return f"/messages/inbound/{segment(parts[3])}/media"


def segment(value: str) -> str:
    """``value`` quoted as one path segment.

    httpx resolves dot segments, so an unquoted "../device/list" as an id
    would call another endpoint and return its body as the answer.
    """
    return quote(value, safe="")


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments given, without those left None (the server's default)."""
    return {name: value for name, value in values.items() if value is not None}


def _list_or_none(values: Any) -> Any:
    return None if values is None else list(values)


# -- sends, messages, devices ------------------------------------------------------------


class _Send(TypedDict):
    device: str
    phone: str
    #: ``Y-m-d H:i:s`` in the server's time zone, or ISO 8601 with an offset; absent: now.
    schedule: NotRequired[str | None]
    #: Sent as the Idempotency-Key header: a retry with it sends nothing twice.
    idempotency_key: NotRequired[str | None]


class TextSend(_Send):
    """The arguments of ``send_text``."""

    message: str


class MediaSend(_Send):
    """The arguments of ``send_media``; the server fetches ``url`` when it sends."""

    url: str
    #: Absent: the server tells from the file.
    type: NotRequired[Literal["image", "video", "audio", "document"] | None]
    caption: NotRequired[str | None]
    filename: NotRequired[str | None]


class ButtonSend(_Send):
    """The arguments of ``send_button``: Alat WA's fields, with shorter names."""

    header: str
    message: str
    footer: str
    buttons: Sequence[str]


class TemplateSend(_Send):
    """The arguments of ``send_template``: a template approved in Meta's console."""

    template: str
    language: str
    #: The template's parameters, as Meta's API takes them.
    components: NotRequired[Sequence[Mapping[str, Any]] | None]


class InboundQuery(TypedDict, total=False):
    """The arguments of ``list_inbound``; each absent one is the server's default."""

    limit: int | None
    #: The previous page's ``next_cursor``.
    before: str | None
    device: str | None


#: The API's names for send_button's arguments, where they differ.
_API_NAMES = {"header": "message_header", "footer": "message_footer"}


def send(path: str, arguments: Mapping[str, Any]) -> Call[SendResponse]:
    """A send: its arguments are the body, but for the idempotency key, a header."""
    body = {
        # Buttons and components may be any sequence; JSON has lists.
        _API_NAMES.get(name, name): list(value) if name in ("buttons", "components") else value
        for name, value in arguments.items()
        if value is not None and name != "idempotency_key"
    }
    key = arguments.get("idempotency_key")
    headers = {"Idempotency-Key": key} if key else {}
    return Call("POST", path, SendResponse, {"json": body, "headers": headers})


def message(method: str, message_id: str, answer: type[Answer]) -> Call[Answer]:
    return Call(method, f"/message/{segment(message_id)}", answer)


def inbound(query: InboundQuery) -> Call[InboundListResponse]:
    params = {name: value for name, value in query.items() if value is not None}
    return Call("GET", "/messages/inbound", InboundListResponse, {"params": params})


DEVICES = Call("GET", "/device/list", DeviceListResponse)
#: Starting a pairing waits for the worker's first code (up to 30 s for a pairing code).
_PAIRING_TIMEOUT_S = 40.0


def pairing(method: str, action: str, device: str, **body: str) -> Call[PairingResponse]:
    options: dict[str, Any] = {"timeout": _PAIRING_TIMEOUT_S}
    if body:
        options["json"] = body
    path = f"/device/{action}/{segment(device)}"
    return Call(method, path, PairingResponse, options)


def check_numbers(device: str, phones: Sequence[str | int]) -> Call[CheckNumbersResponse]:
    # Waits for WhatsApp's answer through the worker (up to 20 s).
    body = {"device": device, "phones": list(phones)}
    return Call("POST", "/check-numbers", CheckNumbersResponse, {"json": body, "timeout": 30.0})


# -- webhooks ---------------------------------------------------------------------------------


class WebhookChanges(TypedDict, total=False):
    """The arguments of ``update_webhook``: each one given is changed, the others are not."""

    url: str
    events: Sequence[str]
    #: None: every device of the account.
    devices: Sequence[str] | None
    #: False pauses the endpoint; True resumes it (or enables one the server disabled).
    enabled: bool


class DeliveryQuery(TypedDict, total=False):
    """The arguments of ``list_webhook_deliveries``; each absent one is the server's default."""

    limit: int | None
    #: The previous page's ``next_cursor``.
    before: str | None
    status: Literal["pending", "delivering", "delivered", "dead"] | None


WEBHOOKS = Call("GET", "/webhooks", WebhookListResponse)


def webhook_path(webhook_id: str, *rest: str) -> str:
    return "/".join(["/webhooks", *(segment(part) for part in (webhook_id, *rest))])


def create_webhook(
    url: str, events: Sequence[str], devices: Sequence[str] | None
) -> Call[WebhookSecretResponse]:
    body = {"url": url, "events": list(events), "devices": _list_or_none(devices)}
    return Call("POST", "/webhooks", WebhookSecretResponse, {"json": body})


def update_webhook(webhook_id: str, changes: WebhookChanges) -> Call[WebhookResponse]:
    body = {
        name: _list_or_none(value) if name in ("events", "devices") else value
        for name, value in changes.items()
    }
    return Call("PATCH", webhook_path(webhook_id), WebhookResponse, {"json": body})


def deliveries(webhook_id: str, query: DeliveryQuery) -> Call[DeliveryListResponse]:
    path = webhook_path(webhook_id, "deliveries")
    return Call("GET", path, DeliveryListResponse, {"params": _given(query)})


def redeliver(
    webhook_id: str, delivery: str | None, since: str | int | None
) -> Call[RedeliverResponse]:
    body = {"delivery": delivery, "since": since}
    return Call("POST", webhook_path(webhook_id, "redeliver"), RedeliverResponse, {"json": body})


# -- broadcasts and contacts ------------------------------------------------------------------


class _Fields(TypedDict):
    """A contact's fields, which fill a message's ``{name}`` and ``{opt1}`` … ``{opt7}``."""

    phone: str
    name: NotRequired[str]
    opt1: NotRequired[str]
    opt2: NotRequired[str]
    opt3: NotRequired[str]
    opt4: NotRequired[str]
    opt5: NotRequired[str]
    opt6: NotRequired[str]
    opt7: NotRequired[str]


class Receiver(_Fields):
    """One recipient of a broadcast."""

    #: Their text, with spintax and placeholders; absent: the broadcast's ``message``.
    message: NotRequired[str]


class Customer(_Fields):
    """One contact, as ``create_contacts`` takes it."""


class BroadcastCreate(TypedDict):
    """The arguments of ``create_broadcast``: Alat WA's fields, ``receivers`` for ``receiver``."""

    #: A device id, or ``default`` for the account's first.
    device: str
    title: str
    receivers: NotRequired[Sequence[Receiver] | None]
    #: A contact group instead of ``receivers``, each sent ``message``.
    group: NotRequired[str | None]
    message: NotRequired[str | None]
    #: ``Y-m-d H:i:s`` in the server's time zone, or ISO 8601 with an offset; absent: now.
    date_execute: NotRequired[str | None]
    #: The daily window (``H:i:s``, the server's zone) outside which nothing is sent.
    active_start: NotRequired[str | None]
    active_end: NotRequired[str | None]
    #: Seconds between two messages, drawn between these (defaults 5 and 15).
    interval_from: NotRequired[float | None]
    interval_to: NotRequired[float | None]
    #: The file of a media broadcast (sent base64); makes ``type`` media.
    media: NotRequired[bytes | None]
    caption: NotRequired[str | None]
    #: False: numbers must be international (no country code is added).
    generate_receiver: NotRequired[bool | None]
    #: True: invalid receivers are left out and counted instead of refusing all.
    skip_invalid: NotRequired[bool | None]
    #: Sent as the Idempotency-Key header: a retry with it creates nothing twice.
    idempotency_key: NotRequired[str | None]


class Page(TypedDict, total=False):
    """A page of a list; each absent one is the server's default."""

    limit: int | None
    #: The previous page's ``next_cursor``.
    before: str | None


class MessageQuery(Page, total=False):
    """The arguments of ``list_messages``: filters (each given must match) and paging."""

    device: str | None
    #: scheduled, queued, sending, sent, delivered, read, failed or cancelled.
    status: str | None
    #: A phone number, in any notation.
    recipient: str | None
    #: text, media, button or template.
    kind: str | None
    #: Accepted at or after, and before: Unix seconds or ISO 8601.
    since: str | int | None
    until: str | int | None
    #: Only this broadcast's messages.
    broadcast: str | None


class ContactQuery(Page, total=False):
    """The arguments of ``list_contacts``."""

    group: str | None


class ContactsCreate(TypedDict, total=False):
    """The options of ``create_contacts``: Alat WA's fields."""

    group: str | None
    #: False: numbers must be international (no country code is added).
    generate_prefix_number: bool | None
    #: False: a contact already in the group is updated instead of left as it was.
    filter_duplicate: bool | None
    skip_invalid: bool | None


#: Creating a large broadcast checks every number before it answers.
_CREATE_TIMEOUT_S = 120.0


def create_broadcast(create: BroadcastCreate) -> Call[BroadcastCreatedResponse]:
    body = _given({name: value for name, value in create.items() if name != "idempotency_key"})
    if "receivers" in body:
        body["receiver"] = [dict(receiver) for receiver in body.pop("receivers")]
    if "media" in body:
        body["media_base64"] = base64.b64encode(body.pop("media")).decode("ascii")
        body.setdefault("type", "media")
    key = create.get("idempotency_key")
    options = {
        "json": body,
        "headers": {"Idempotency-Key": key} if key else {},
        "timeout": _CREATE_TIMEOUT_S,
    }
    return Call("POST", "/broadcast/create", BroadcastCreatedResponse, options)


def broadcast(broadcast_id: str) -> Call[BroadcastResponse]:
    return Call("GET", f"/broadcast/{segment(broadcast_id)}", BroadcastResponse)


def broadcasts(page: Page) -> Call[BroadcastListResponse]:
    return Call("GET", "/broadcast/list", BroadcastListResponse, {"params": _given(page)})


def broadcast_action(
    broadcast_id: str, action: Literal["pause", "resume", "cancel"]
) -> Call[BroadcastActionResponse]:
    return Call("POST", f"/broadcast/{segment(broadcast_id)}/{action}", BroadcastActionResponse)


def messages(query: MessageQuery) -> Call[MessageListResponse]:
    return Call("GET", "/messages", MessageListResponse, {"params": _given(query)})


def create_contacts(
    customers: Sequence[Customer], options: ContactsCreate
) -> Call[CustomerCreatedResponse]:
    body = {"customers": [dict(customer) for customer in customers], **_given(options)}
    return Call("POST", "/customer/create", CustomerCreatedResponse, {"json": body})


def contacts(query: ContactQuery) -> Call[CustomerListResponse]:
    return Call("GET", "/customer/list", CustomerListResponse, {"params": _given(query)})


def delete_contact(phone: str, group: str | None) -> Call[CustomerDeletedResponse]:
    path = f"/customer/{segment(phone)}"
    return Call("DELETE", path, CustomerDeletedResponse, {"params": _given({"group": group})})
