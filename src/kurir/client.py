"""Python clients for Kurir's HTTP API, sync and async, over httpx.

Both speak only HTTP: they work against any Kurir (or Alat WA) base URL.
Answers are the API's own response structs (kurir.api.types), decoded from
the response bytes; every refusal raises `KurirError`, carrying the server's
message and status. The two clients share everything but the waiting: each
method builds its `Call` (kurir.client_calls) and decodes the answer
with `_decode`.
"""

from collections.abc import Sequence
from typing import Self, Unpack

import httpx
import msgspec

from kurir import client_calls as calls
from kurir.api.broadcast_types import (
    BroadcastActionResponse,
    BroadcastCreatedResponse,
    BroadcastData,
    BroadcastListResponse,
    CustomerCreatedResponse,
    CustomerDeletedResponse,
    CustomerListResponse,
    MessageListResponse,
)
from kurir.api.types import (
    CancelResponse,
    CheckNumbersResponse,
    DeviceData,
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
    WebhookData,
    WebhookDeletedResponse,
    WebhookResponse,
    WebhookSecretData,
    WebhookSecretResponse,
)
from kurir.client_calls import (
    Answer,
    BroadcastCreate,
    ButtonSend,
    Call,
    ContactQuery,
    ContactsCreate,
    Customer,
    DeliveryQuery,
    InboundQuery,
    MediaSend,
    MessageQuery,
    Page,
    Receiver,
    TemplateSend,
    TextSend,
    WebhookChanges,
)

__all__ = [
    "AsyncClient",
    "BroadcastCreate",
    "ButtonSend",
    "Client",
    "ContactQuery",
    "ContactsCreate",
    "Customer",
    "DeliveryQuery",
    "InboundQuery",
    "KurirError",
    "MediaSend",
    "MessageQuery",
    "Page",
    "Receiver",
    "TemplateSend",
    "TextSend",
    "WebhookChanges",
]


class KurirError(Exception):
    """The server refused a request (or could not be reached: status_code 0)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


def _decode(response: httpx.Response, answer: type[Answer]) -> Answer:
    """The answer as ``answer``, or the refusal as a KurirError."""
    if response.is_success:
        try:
            return msgspec.json.decode(response.content, type=answer)
        except msgspec.DecodeError:
            pass  # a refusal answered with 200, or not the API's answer: told apart below
    raise _refusal(response)


def _file(response: httpx.Response) -> bytes:
    """A file's bytes, or the refusal as a KurirError."""
    if response.is_success:
        return response.content
    raise _refusal(response)


def _refusal(response: httpx.Response) -> KurirError:
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and (response.is_error or body.get("status") != "ok"):
        return KurirError(response.status_code, str(body.get("message", "unknown error")))
    return KurirError(response.status_code, f"unexpected response: {response.text[:200]!r}")


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

    def _call(self, request: Call[Answer]) -> Answer:
        try:
            response = self._http.request(request.method, request.path, **request.options)
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error
        return _decode(response, request.answer)

    def send_text(self, **send: Unpack[TextSend]) -> SendResponse:
        """Send (or schedule) a text message."""
        return self._call(calls.send("/send/text", send))

    def send_media(self, **send: Unpack[MediaSend]) -> SendResponse:
        """Send (or schedule) a picture, video, audio or document from a URL."""
        return self._call(calls.send("/send/media", send))

    def send_button(self, **send: Unpack[ButtonSend]) -> SendResponse:
        """Send (or schedule) a button message."""
        return self._call(calls.send("/send/button", send))

    def send_template(self, **send: Unpack[TemplateSend]) -> SendResponse:
        """Send (or schedule) a message template, on a device of WhatsApp's Cloud API."""
        return self._call(calls.send("/send/template", send))

    def get_message(self, message_id: str) -> MessageData:
        """The message and its life so far."""
        return self._call(calls.message("GET", message_id, MessageResponse)).data

    def cancel_message(self, message_id: str) -> CancelResponse:
        return self._call(calls.message("DELETE", message_id, CancelResponse))

    def list_devices(self) -> list[DeviceData]:
        return self._call(calls.DEVICES).data

    def list_inbound(self, **query: Unpack[InboundQuery]) -> InboundListResponse:
        """What recipients sent the account's devices, newest first, a page at a time."""
        return self._call(calls.inbound(query))

    def fetch_media(self, media_url: str) -> bytes:
        """The file an inbound message's ``media_url`` names (a path of this API)."""
        try:
            return _file(self._http.get(calls.media_path(media_url)))
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error

    def create_webhook(
        self, url: str, events: Sequence[str], devices: Sequence[str] | None = None
    ) -> WebhookSecretData:
        """A new endpoint, with its signing ``secret``: the only time it is shown."""
        return self._call(calls.create_webhook(url, events, devices)).data

    def list_webhooks(self) -> list[WebhookData]:
        return self._call(calls.WEBHOOKS).data

    def get_webhook(self, webhook_id: str) -> WebhookData:
        return self._call(Call("GET", calls.webhook_path(webhook_id), WebhookResponse)).data

    def update_webhook(self, webhook_id: str, **changes: Unpack[WebhookChanges]) -> WebhookData:
        """Change what is given; ``enabled=False`` pauses, ``enabled=True`` resumes."""
        return self._call(calls.update_webhook(webhook_id, changes)).data

    def delete_webhook(self, webhook_id: str) -> WebhookDeletedResponse:
        return self._call(Call("DELETE", calls.webhook_path(webhook_id), WebhookDeletedResponse))

    def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecretData:
        """A new secret (shown this once); the old one signs beside it for a day."""
        path = calls.webhook_path(webhook_id, "rotate-secret")
        return self._call(Call("POST", path, WebhookSecretResponse)).data

    def list_webhook_deliveries(
        self, webhook_id: str, **query: Unpack[DeliveryQuery]
    ) -> DeliveryListResponse:
        """The endpoint's delivery log, newest event first, a page at a time."""
        return self._call(calls.deliveries(webhook_id, query))

    def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> DeliveryData:
        path = calls.webhook_path(webhook_id, "deliveries", delivery_id)
        return self._call(Call("GET", path, DeliveryResponse)).data

    def redeliver_webhook(
        self, webhook_id: str, *, delivery: str | None = None, since: str | int | None = None
    ) -> RedeliveredData:
        """One delivery again, or every dead one since a time (Unix seconds or ISO 8601)."""
        return self._call(calls.redeliver(webhook_id, delivery, since)).data

    def start_pairing(self, device: str) -> PairingResponse:
        """Start linking a WhatsApp Web device by QR code; the answer has the first code."""
        return self._call(calls.pairing("POST", "scan", device))

    def pairing(self, device: str) -> PairingResponse:
        """A WhatsApp Web device's pairing as it is now: state, QR code, pairing code."""
        return self._call(calls.pairing("GET", "scan", device))

    def pair_by_code(self, device: str, phone: str | None = None) -> PairingResponse:
        """Link by an 8-character code typed on the phone (``phone``: by default the device's)."""
        return self._call(
            calls.pairing("POST", "pair-code", device, **({"phone": phone} if phone else {}))
        )

    def disconnect_device(self, device: str) -> PairingResponse:
        """Log a WhatsApp Web device out and forget its session."""
        return self._call(calls.pairing("POST", "disconnect", device))

    # -- broadcasts and contacts ---------------------------------------------------------------

    def create_broadcast(self, **create: Unpack[BroadcastCreate]) -> BroadcastCreatedResponse:
        """A broadcast: every receiver's message planned over time, inside its window."""
        return self._call(calls.create_broadcast(create))

    def get_broadcast(self, broadcast_id: str) -> BroadcastData:
        """The broadcast, its messages' totals by status and when the next one is due."""
        return self._call(calls.broadcast(broadcast_id)).data

    def list_broadcasts(self, **page: Unpack[Page]) -> BroadcastListResponse:
        """The account's broadcasts, newest first, a page at a time."""
        return self._call(calls.broadcasts(page))

    def pause_broadcast(self, broadcast_id: str) -> BroadcastActionResponse:
        return self._call(calls.broadcast_action(broadcast_id, "pause"))

    def resume_broadcast(self, broadcast_id: str) -> BroadcastActionResponse:
        """Send again, planned afresh from now."""
        return self._call(calls.broadcast_action(broadcast_id, "resume"))

    def cancel_broadcast(self, broadcast_id: str) -> BroadcastActionResponse:
        """Every message of the broadcast not yet being sent fails."""
        return self._call(calls.broadcast_action(broadcast_id, "cancel"))

    def list_messages(self, **query: Unpack[MessageQuery]) -> MessageListResponse:
        """The account's messages, newest first, a page at a time; keyword filters narrow it."""
        return self._call(calls.messages(query))

    def create_contacts(
        self, customers: Sequence[Customer], **options: Unpack[ContactsCreate]
    ) -> CustomerCreatedResponse:
        """Contacts, whose fields fill a broadcast's placeholders, in ``group`` if given."""
        return self._call(calls.create_contacts(customers, options))

    def list_contacts(self, **query: Unpack[ContactQuery]) -> CustomerListResponse:
        """The account's contacts (or one group's), newest first, a page at a time."""
        return self._call(calls.contacts(query))

    def delete_contact(self, phone: str, *, group: str | None = None) -> CustomerDeletedResponse:
        """Forget the number, in every group or in ``group``."""
        return self._call(calls.delete_contact(phone, group))

    def check_numbers(self, device: str, phones: Sequence[str | int]) -> CheckNumbersResponse:
        """Which of ``phones`` are on WhatsApp, asked through a connected WhatsApp Web device."""
        return self._call(calls.check_numbers(device, phones))


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

    async def _call(self, request: Call[Answer]) -> Answer:
        try:
            response = await self._http.request(request.method, request.path, **request.options)
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error
        return _decode(response, request.answer)

    async def send_text(self, **send: Unpack[TextSend]) -> SendResponse:
        return await self._call(calls.send("/send/text", send))

    async def send_media(self, **send: Unpack[MediaSend]) -> SendResponse:
        return await self._call(calls.send("/send/media", send))

    async def send_button(self, **send: Unpack[ButtonSend]) -> SendResponse:
        return await self._call(calls.send("/send/button", send))

    async def send_template(self, **send: Unpack[TemplateSend]) -> SendResponse:
        return await self._call(calls.send("/send/template", send))

    async def get_message(self, message_id: str) -> MessageData:
        return (await self._call(calls.message("GET", message_id, MessageResponse))).data

    async def cancel_message(self, message_id: str) -> CancelResponse:
        return await self._call(calls.message("DELETE", message_id, CancelResponse))

    async def list_devices(self) -> list[DeviceData]:
        return (await self._call(calls.DEVICES)).data

    async def list_inbound(self, **query: Unpack[InboundQuery]) -> InboundListResponse:
        return await self._call(calls.inbound(query))

    async def fetch_media(self, media_url: str) -> bytes:
        try:
            return _file(await self._http.get(calls.media_path(media_url)))
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error

    async def create_webhook(
        self, url: str, events: Sequence[str], devices: Sequence[str] | None = None
    ) -> WebhookSecretData:
        return (await self._call(calls.create_webhook(url, events, devices))).data

    async def list_webhooks(self) -> list[WebhookData]:
        return (await self._call(calls.WEBHOOKS)).data

    async def get_webhook(self, webhook_id: str) -> WebhookData:
        request = Call("GET", calls.webhook_path(webhook_id), WebhookResponse)
        return (await self._call(request)).data

    async def update_webhook(
        self, webhook_id: str, **changes: Unpack[WebhookChanges]
    ) -> WebhookData:
        return (await self._call(calls.update_webhook(webhook_id, changes))).data

    async def delete_webhook(self, webhook_id: str) -> WebhookDeletedResponse:
        request = Call("DELETE", calls.webhook_path(webhook_id), WebhookDeletedResponse)
        return await self._call(request)

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecretData:
        path = calls.webhook_path(webhook_id, "rotate-secret")
        return (await self._call(Call("POST", path, WebhookSecretResponse))).data

    async def list_webhook_deliveries(
        self, webhook_id: str, **query: Unpack[DeliveryQuery]
    ) -> DeliveryListResponse:
        return await self._call(calls.deliveries(webhook_id, query))

    async def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> DeliveryData:
        path = calls.webhook_path(webhook_id, "deliveries", delivery_id)
        return (await self._call(Call("GET", path, DeliveryResponse))).data

    async def redeliver_webhook(
        self, webhook_id: str, *, delivery: str | None = None, since: str | int | None = None
    ) -> RedeliveredData:
        return (await self._call(calls.redeliver(webhook_id, delivery, since))).data

    async def create_broadcast(self, **create: Unpack[BroadcastCreate]) -> BroadcastCreatedResponse:
        return await self._call(calls.create_broadcast(create))

    async def get_broadcast(self, broadcast_id: str) -> BroadcastData:
        return (await self._call(calls.broadcast(broadcast_id))).data

    async def list_broadcasts(self, **page: Unpack[Page]) -> BroadcastListResponse:
        return await self._call(calls.broadcasts(page))

    async def pause_broadcast(self, broadcast_id: str) -> BroadcastActionResponse:
        return await self._call(calls.broadcast_action(broadcast_id, "pause"))

    async def resume_broadcast(self, broadcast_id: str) -> BroadcastActionResponse:
        return await self._call(calls.broadcast_action(broadcast_id, "resume"))

    async def cancel_broadcast(self, broadcast_id: str) -> BroadcastActionResponse:
        return await self._call(calls.broadcast_action(broadcast_id, "cancel"))

    async def list_messages(self, **query: Unpack[MessageQuery]) -> MessageListResponse:
        return await self._call(calls.messages(query))

    async def create_contacts(
        self, customers: Sequence[Customer], **options: Unpack[ContactsCreate]
    ) -> CustomerCreatedResponse:
        return await self._call(calls.create_contacts(customers, options))

    async def list_contacts(self, **query: Unpack[ContactQuery]) -> CustomerListResponse:
        return await self._call(calls.contacts(query))

    async def delete_contact(
        self, phone: str, *, group: str | None = None
    ) -> CustomerDeletedResponse:
        return await self._call(calls.delete_contact(phone, group))

    async def start_pairing(self, device: str) -> PairingResponse:
        """Start linking a WhatsApp Web device by QR code; the answer has the first code."""
        return await self._call(calls.pairing("POST", "scan", device))

    async def pairing(self, device: str) -> PairingResponse:
        """A WhatsApp Web device's pairing as it is now: state, QR code, pairing code."""
        return await self._call(calls.pairing("GET", "scan", device))

    async def pair_by_code(self, device: str, phone: str | None = None) -> PairingResponse:
        """Link by an 8-character code typed on the phone (``phone``: by default the device's)."""
        return await self._call(
            calls.pairing("POST", "pair-code", device, **({"phone": phone} if phone else {}))
        )

    async def disconnect_device(self, device: str) -> PairingResponse:
        """Log a WhatsApp Web device out and forget its session."""
        return await self._call(calls.pairing("POST", "disconnect", device))

    async def check_numbers(self, device: str, phones: Sequence[str | int]) -> CheckNumbersResponse:
        """Which of ``phones`` are on WhatsApp, asked through a connected WhatsApp Web device."""
        return await self._call(calls.check_numbers(device, phones))
