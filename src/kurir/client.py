"""Python clients for Kurir's HTTP API, sync and async, over httpx.

Both speak only HTTP: they work against any Kurir (or Alat WA) base URL.
Answers are the API's own response structs (kurir.api.types), decoded from
the response bytes; every refusal raises `KurirError`, carrying the server's
message and status. The two clients share everything but the waiting: each
method builds a `_Request` with the same function and decodes its answer
with `_decode`.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, NamedTuple, NotRequired, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx
import msgspec

from kurir.api.broadcast_types import MessageListResponse
from kurir.api.types import (
    CancelResponse,
    DeviceData,
    DeviceListResponse,
    InboundListResponse,
    MessageData,
    MessageResponse,
    PairingResponse,
    SendResponse,
)
from kurir.api.webhook_types import (
    DeliveryData,
    DeliveryListResponse,
    DeliveryResponse,
    RedeliveredData,
    RedeliverResponse,
    WebhookData,
    WebhookDeletedResponse,
    WebhookListResponse,
    WebhookResponse,
    WebhookSecretData,
    WebhookSecretResponse,
)

#: The response struct a request's answer decodes into.
Answer = TypeVar("Answer", bound=msgspec.Struct)


class KurirError(Exception):
    """The server refused a request (or could not be reached: status_code 0)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


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


class MessageQuery(TypedDict, total=False):
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
    broadcast: str | None
    limit: int | None
    #: The previous page's ``next_cursor``.
    before: str | None


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


#: The API's names for send_button's arguments, where they differ.
_API_NAMES = {"header": "message_header", "footer": "message_footer"}


class _Request(NamedTuple, Generic[Answer]):
    """One call to the API, and the struct its answer decodes into."""

    method: str
    path: str
    answer: type[Answer]
    #: httpx's keyword arguments: json, params, headers.
    options: Mapping[str, Any] = {}


def _send(path: str, send: Mapping[str, Any]) -> _Request[SendResponse]:
    """A send: its arguments are the body, but for the idempotency key, a header."""
    body = {
        # Buttons and components may be any sequence; JSON has lists.
        _API_NAMES.get(name, name): list(value) if name in ("buttons", "components") else value
        for name, value in send.items()
        if value is not None and name != "idempotency_key"
    }
    key = send.get("idempotency_key")
    headers = {"Idempotency-Key": key} if key else {}
    return _Request("POST", path, SendResponse, {"json": body, "headers": headers})


def _message(method: str, message_id: str, answer: type[Answer]) -> _Request[Answer]:
    # Quoted as one path segment: httpx resolves dot segments, so an unquoted
    # "../device/list" would call another endpoint and return its body as a message.
    return _Request(method, f"/message/{quote(message_id, safe='')}", answer)


def _inbound(query: InboundQuery) -> _Request[InboundListResponse]:
    params = {name: value for name, value in query.items() if value is not None}
    return _Request("GET", "/messages/inbound", InboundListResponse, {"params": params})


def _messages(query: MessageQuery) -> _Request[MessageListResponse]:
    params = {name: value for name, value in query.items() if value is not None}
    return _Request("GET", "/messages", MessageListResponse, {"params": params})


_DEVICES = _Request("GET", "/device/list", DeviceListResponse)
_WEBHOOKS = _Request("GET", "/webhooks", WebhookListResponse)


def _webhook_path(webhook_id: str, *rest: str) -> str:
    # Each id quoted as one path segment, as a message id is (see _message).
    return "/".join(["/webhooks", *(quote(part, safe="") for part in (webhook_id, *rest))])


def _create_webhook(
    url: str, events: Sequence[str], devices: Sequence[str] | None
) -> _Request[WebhookSecretResponse]:
    body = {"url": url, "events": list(events), "devices": _list_or_none(devices)}
    return _Request("POST", "/webhooks", WebhookSecretResponse, {"json": body})


def _update_webhook(webhook_id: str, changes: WebhookChanges) -> _Request[WebhookResponse]:
    body = {
        name: _list_or_none(value) if name in ("events", "devices") else value
        for name, value in changes.items()
    }
    return _Request("PATCH", _webhook_path(webhook_id), WebhookResponse, {"json": body})


def _deliveries(webhook_id: str, query: DeliveryQuery) -> _Request[DeliveryListResponse]:
    params = {name: value for name, value in query.items() if value is not None}
    path = _webhook_path(webhook_id, "deliveries")
    return _Request("GET", path, DeliveryListResponse, {"params": params})


def _redeliver(
    webhook_id: str, delivery: str | None, since: str | int | None
) -> _Request[RedeliverResponse]:
    body = {"delivery": delivery, "since": since}
    path = _webhook_path(webhook_id, "redeliver")
    return _Request("POST", path, RedeliverResponse, {"json": body})


def _list_or_none(values: Any) -> Any:
    return None if values is None else list(values)


#: Starting a pairing waits for the worker's first code (up to 30 s for a pairing code).
_PAIRING_TIMEOUT_S = 40.0


def _pairing(method: str, action: str, device: str, **body: str) -> _Request[PairingResponse]:
    options: dict[str, Any] = {"timeout": _PAIRING_TIMEOUT_S}
    if body:
        options["json"] = body
    path = f"/device/{action}/{quote(device, safe='')}"
    return _Request(method, path, PairingResponse, options)


def _decode(response: httpx.Response, answer: type[Answer]) -> Answer:
    """The answer as ``answer``, or the refusal as a KurirError."""
    if response.is_success:
        try:
            return msgspec.json.decode(response.content, type=answer)
        except msgspec.DecodeError:
            pass  # a refusal answered with 200, or not the API's answer: told apart below
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and (response.is_error or body.get("status") != "ok"):
        raise KurirError(response.status_code, str(body.get("message", "unknown error")))
    raise KurirError(response.status_code, f"unexpected response: {response.text[:200]!r}")


def _unreachable(base_url: httpx.URL, error: httpx.TransportError) -> KurirError:
    # Named, since a wrong URL (or port) is the usual cause.
    return KurirError(0, f"cannot reach the server at {str(base_url).rstrip('/')}: {error}")


class Client:
    """A blocking client: ``Client(base_url, api_key).send_text(...)``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": api_key}, timeout=timeout
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, request: _Request[Answer]) -> Answer:
        try:
            response = self._http.request(request.method, request.path, **request.options)
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error
        return _decode(response, request.answer)

    def send_text(self, **send: Unpack[TextSend]) -> SendResponse:
        """Send (or schedule) a text message."""
        return self._call(_send("/send/text", send))

    def send_media(self, **send: Unpack[MediaSend]) -> SendResponse:
        """Send (or schedule) a picture, video, audio or document from a URL."""
        return self._call(_send("/send/media", send))

    def send_button(self, **send: Unpack[ButtonSend]) -> SendResponse:
        """Send (or schedule) a button message."""
        return self._call(_send("/send/button", send))

    def send_template(self, **send: Unpack[TemplateSend]) -> SendResponse:
        """Send (or schedule) a message template, on a device of WhatsApp's Cloud API."""
        return self._call(_send("/send/template", send))

    def get_message(self, message_id: str) -> MessageData:
        """The message and its life so far."""
        return self._call(_message("GET", message_id, MessageResponse)).data

    def cancel_message(self, message_id: str) -> CancelResponse:
        return self._call(_message("DELETE", message_id, CancelResponse))

    def list_devices(self) -> list[DeviceData]:
        return self._call(_DEVICES).data

    def list_inbound(self, **query: Unpack[InboundQuery]) -> InboundListResponse:
        """What recipients sent the account's devices, newest first, a page at a time."""
        return self._call(_inbound(query))

    def list_messages(self, **query: Unpack[MessageQuery]) -> MessageListResponse:
        """The account's messages, newest first, a page at a time; keyword filters narrow it."""
        return self._call(_messages(query))

    def create_webhook(
        self, url: str, events: Sequence[str], devices: Sequence[str] | None = None
    ) -> WebhookSecretData:
        """A new endpoint, with its signing ``secret``: the only time it is shown."""
        return self._call(_create_webhook(url, events, devices)).data

    def list_webhooks(self) -> list[WebhookData]:
        return self._call(_WEBHOOKS).data

    def get_webhook(self, webhook_id: str) -> WebhookData:
        return self._call(_Request("GET", _webhook_path(webhook_id), WebhookResponse)).data

    def update_webhook(self, webhook_id: str, **changes: Unpack[WebhookChanges]) -> WebhookData:
        """Change what is given; ``enabled=False`` pauses, ``enabled=True`` resumes."""
        return self._call(_update_webhook(webhook_id, changes)).data

    def delete_webhook(self, webhook_id: str) -> WebhookDeletedResponse:
        return self._call(_Request("DELETE", _webhook_path(webhook_id), WebhookDeletedResponse))

    def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecretData:
        """A new secret (shown this once); the old one signs beside it for a day."""
        path = _webhook_path(webhook_id, "rotate-secret")
        return self._call(_Request("POST", path, WebhookSecretResponse)).data

    def list_webhook_deliveries(
        self, webhook_id: str, **query: Unpack[DeliveryQuery]
    ) -> DeliveryListResponse:
        """The endpoint's delivery log, newest event first, a page at a time."""
        return self._call(_deliveries(webhook_id, query))

    def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> DeliveryData:
        path = _webhook_path(webhook_id, "deliveries", delivery_id)
        return self._call(_Request("GET", path, DeliveryResponse)).data

    def redeliver_webhook(
        self, webhook_id: str, *, delivery: str | None = None, since: str | int | None = None
    ) -> RedeliveredData:
        """One delivery again, or every dead one since a time (Unix seconds or ISO 8601)."""
        return self._call(_redeliver(webhook_id, delivery, since)).data

    def start_pairing(self, device: str) -> PairingResponse:
        """Start linking a WhatsApp Web device by QR code; the answer has the first code."""
        return self._call(_pairing("POST", "scan", device))

    def pairing(self, device: str) -> PairingResponse:
        """A WhatsApp Web device's pairing as it is now: state, QR code, pairing code."""
        return self._call(_pairing("GET", "scan", device))

    def pair_by_code(self, device: str, phone: str | None = None) -> PairingResponse:
        """Link by an 8-character code typed on the phone (``phone``: by default the device's)."""
        return self._call(
            _pairing("POST", "pair-code", device, **({"phone": phone} if phone else {}))
        )

    def disconnect_device(self, device: str) -> PairingResponse:
        """Log a WhatsApp Web device out and forget its session."""
        return self._call(_pairing("POST", "disconnect", device))


class AsyncClient:
    """The same API for asyncio: ``async with AsyncClient(url, key) as kurir: ...``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": api_key}, timeout=timeout
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, request: _Request[Answer]) -> Answer:
        try:
            response = await self._http.request(request.method, request.path, **request.options)
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error
        return _decode(response, request.answer)

    async def send_text(self, **send: Unpack[TextSend]) -> SendResponse:
        return await self._call(_send("/send/text", send))

    async def send_media(self, **send: Unpack[MediaSend]) -> SendResponse:
        return await self._call(_send("/send/media", send))

    async def send_button(self, **send: Unpack[ButtonSend]) -> SendResponse:
        return await self._call(_send("/send/button", send))

    async def send_template(self, **send: Unpack[TemplateSend]) -> SendResponse:
        return await self._call(_send("/send/template", send))

    async def get_message(self, message_id: str) -> MessageData:
        return (await self._call(_message("GET", message_id, MessageResponse))).data

    async def cancel_message(self, message_id: str) -> CancelResponse:
        return await self._call(_message("DELETE", message_id, CancelResponse))

    async def list_devices(self) -> list[DeviceData]:
        return (await self._call(_DEVICES)).data

    async def list_inbound(self, **query: Unpack[InboundQuery]) -> InboundListResponse:
        return await self._call(_inbound(query))

    async def list_messages(self, **query: Unpack[MessageQuery]) -> MessageListResponse:
        return await self._call(_messages(query))

    async def create_webhook(
        self, url: str, events: Sequence[str], devices: Sequence[str] | None = None
    ) -> WebhookSecretData:
        return (await self._call(_create_webhook(url, events, devices))).data

    async def list_webhooks(self) -> list[WebhookData]:
        return (await self._call(_WEBHOOKS)).data

    async def get_webhook(self, webhook_id: str) -> WebhookData:
        request = _Request("GET", _webhook_path(webhook_id), WebhookResponse)
        return (await self._call(request)).data

    async def update_webhook(
        self, webhook_id: str, **changes: Unpack[WebhookChanges]
    ) -> WebhookData:
        return (await self._call(_update_webhook(webhook_id, changes))).data

    async def delete_webhook(self, webhook_id: str) -> WebhookDeletedResponse:
        request = _Request("DELETE", _webhook_path(webhook_id), WebhookDeletedResponse)
        return await self._call(request)

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecretData:
        path = _webhook_path(webhook_id, "rotate-secret")
        return (await self._call(_Request("POST", path, WebhookSecretResponse))).data

    async def list_webhook_deliveries(
        self, webhook_id: str, **query: Unpack[DeliveryQuery]
    ) -> DeliveryListResponse:
        return await self._call(_deliveries(webhook_id, query))

    async def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> DeliveryData:
        path = _webhook_path(webhook_id, "deliveries", delivery_id)
        return (await self._call(_Request("GET", path, DeliveryResponse))).data

    async def redeliver_webhook(
        self, webhook_id: str, *, delivery: str | None = None, since: str | int | None = None
    ) -> RedeliveredData:
        return (await self._call(_redeliver(webhook_id, delivery, since))).data
