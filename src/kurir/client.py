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

from kurir.api.types import (
    CancelResponse,
    DeviceData,
    DeviceListResponse,
    InboundListResponse,
    MessageData,
    MessageResponse,
    SendResponse,
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


_DEVICES = _Request("GET", "/device/list", DeviceListResponse)


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
