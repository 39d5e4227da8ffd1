"""The HTTP endpoints: Alat WA's sends and the rest of Kurir's API.

Handlers translate between HTTP and the domain and store; they hold no SQL
and no rules of their own beyond picking fields out of requests. The
sends share one accept pipeline (`Routes.send`); each is an entry of `send_kinds`:
its request type, its kind, and how its content is built.
"""

import hashlib
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from kurir.api import body
from kurir.api.auth import device_not_found
from kurir.api.body import query_limit, whole_number
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.api.ratelimit import RateLimiter
from kurir.api.requests import (
    SendButtonRequest,
    SendMediaRequest,
    SendTemplateRequest,
    SendTextRequest,
    convert_fields,
)
from kurir.api.types import (
    CancelResponse,
    DeviceData,
    DeviceListResponse,
    DeviceProfileData,
    HealthResponse,
    InboundListResponse,
    InboundMessageData,
    MessageResponse,
    SendResponse,
)
from kurir.api.views import device_state, message_data
from kurir.clock import now_ms, to_datetime, to_ms
from kurir.config import Settings
from kurir.domain.buttons import build_button_message
from kurir.domain.content import (
    Content,
    MessageKind,
    TransportLimits,
    build_media_message,
    build_template_message,
    build_text_message,
    encode_content,
    require_kind,
)
from kurir.domain.errors import ValidationError
from kurir.domain.ids import is_message_id, new_message_id
from kurir.domain.phone import normalise_phone
from kurir.domain.schedule import is_immediate, parse_schedule
from kurir.domain.status import MessageStatus
from kurir.egress import InvalidURL, check_url
from kurir.metrics import METRICS
from kurir.store import accounts, inbound, lifecycle, reading
from kurir.store.records import Accepted, DeviceRemoved, NewMessage
from kurir.transports.registry import transport_limits

_ENCODER = msgspec.json.Encoder()
_ACCEPTED = METRICS.counts.accepted
#: The largest inbound cursor; ids are row numbers, far below it.
_MAX_CURSOR = 2**62


class SendKind(NamedTuple):
    """One send endpoint: what it reads, and how that becomes content."""

    request_type: type[msgspec.Struct]
    kind: MessageKind
    build: Callable[[Any, TransportLimits], Content]


def send_kinds(settings: Settings) -> dict[str, SendKind]:
    """The send endpoints by path."""

    def media(send: SendMediaRequest, limits: TransportLimits) -> Content:
        try:
            url = check_url(send.url, allow_private=settings.allow_private_urls)
        except InvalidURL as error:
            raise ValidationError(f"url: {error}") from None
        return build_media_message(
            url=url,
            media_type=send.type,
            caption=send.caption,
            filename=send.filename,
            limits=limits,
        )

    return {
        "/send/text": SendKind(
            SendTextRequest,
            MessageKind.TEXT,
            lambda send, limits: build_text_message(message=send.message, limits=limits),
        ),
        "/send/media": SendKind(SendMediaRequest, MessageKind.MEDIA, media),
        "/send/template": SendKind(
            SendTemplateRequest,
            MessageKind.TEMPLATE,
            lambda send, _limits: build_template_message(
                name=send.template, language=send.language, components=send.components
            ),
        ),
        "/send/button": SendKind(
            SendButtonRequest,
            MessageKind.BUTTON,
            lambda send, limits: build_button_message(
                header=send.message_header,
                body=send.message,
                footer=send.message_footer,
                buttons=send.buttons,
                limits=limits.buttons,
            ),
        ),
    }


class Routes:
    """Handlers bound to one process's API context."""

    def __init__(self, api: ApiContext) -> None:
        self._api = api
        self._settings = api.settings
        self._limiter = RateLimiter(api.settings.rate_limit_per_second)
        self._zone = api.zone

    # -- sending --------------------------------------------------------------

    async def send(self, request: Request, endpoint: SendKind) -> Response:
        """The accept pipeline: auth, fields, device, content, phone, schedule, store."""
        api = self._api
        account_id = await api.account_id(request)
        if not self._limiter.allow(account_id):
            raise ApiError(429, "Rate limit exceeded; slow down", {"Retry-After": "1"})
        idempotency_key = body.idempotency_key(request)
        send: Any = convert_fields(await api.fields(request), endpoint.request_type)
        schedule_raw: str | None = send.schedule

        device = await api.device(account_id, send.device)
        limits = transport_limits(device.transport)
        require_kind(endpoint.kind, limits, device.transport)
        content = endpoint.build(send, limits)
        recipient = normalise_phone(str(send.phone), self._settings.default_region)
        now = now_ms()
        due_at = now
        if not is_immediate(schedule_raw):  # most sends are for now: skip the datetimes
            due = parse_schedule(
                schedule_raw,
                now=to_datetime(now).astimezone(self._zone),
                timezone=self._zone,
                horizon=self._settings.schedule_horizon,
            )
            due_at = to_ms(due)
        encoded = encode_content(content)
        fingerprint = None
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(
                _ENCODER.encode([device.public_id, recipient, encoded, schedule_raw or ""])
            ).hexdigest()
        result = await api.store.accept(
            NewMessage(
                message_id=new_message_id(),
                account_id=account_id,
                device_id=device.id,
                recipient=recipient,
                content=encoded,
                status=MessageStatus.SCHEDULED if due_at > now else MessageStatus.QUEUED,
                due_at=due_at,
                created_at=now,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
        )
        if isinstance(result, DeviceRemoved):
            api.auth.forget_device(device.public_id)
            raise device_not_found(device.public_id)
        if not isinstance(result, Accepted):
            raise ApiError(
                409,
                "Idempotency-Key was already used for a different request "
                f"(message {result.message_id})",
            )
        if not result.replayed:  # by the kind's plain str: an enum member hashes in Python
            _ACCEPTED[str(endpoint.kind)] += 1
        return ok(
            SendResponse(message_id=result.message_id, from_=device.phone, to=result.recipient)
        )

    # -- messages ---------------------------------------------------------------

    async def get_message(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        view = await self._api.store.read(
            reading.get_message, _message_id(request), account_id=account_id
        )
        if view is None:
            raise _message_not_found(request)
        return ok(MessageResponse(data=message_data(view, self._api.zone)))

    async def cancel_message(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        message_id = _message_id(request)
        view = await self._api.store.write(
            lifecycle.cancel_message, message_id, account_id=account_id, now=now_ms()
        )
        if view is None:
            raise _message_not_found(request)
        if view.status != MessageStatus.CANCELLED:
            raise ApiError(
                409, f"message {message_id} is already {view.status}; it can no longer be cancelled"
            )
        return ok(CancelResponse(message_id=message_id))

    # -- devices ---------------------------------------------------------------

    async def list_devices(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        found = await self._api.store.read(accounts.list_devices, account_id=account_id)
        now = now_ms()
        return ok(
            DeviceListResponse(
                data=[
                    DeviceData(
                        device=device.public_id,
                        phone=device.phone,
                        transport=device.transport,
                        state=device_state(device, now),
                        min_interval_ms=device.min_interval_ms,
                        max_interval_ms=device.max_interval_ms,
                        created_at=self._api.iso(device.created_at),
                        profile=_profile(device.profile),
                    )
                    for device in found
                ]
            )
        )

    async def list_inbound(self, request: Request) -> Response:
        """What recipients sent the account's devices, newest first, paged by cursor."""
        account_id = await self._api.account_id(request)
        limit = query_limit(request)
        before = None
        raw_before = request.query_params.get("before")
        if raw_before:
            before = whole_number(raw_before, _MAX_CURSOR)
            if before is None:
                raise ValidationError("before must be a cursor from a previous answer")
        device_id = None
        raw_device = request.query_params.get("device")
        if raw_device:
            device_id = (await self._api.device(account_id, raw_device)).id
        found = await self._api.store.read(
            inbound.list_inbound,
            account_id=account_id,
            limit=limit,
            before=before,
            device_id=device_id,
        )
        return ok(
            InboundListResponse(
                data=[
                    InboundMessageData(
                        message_id=item.message_id,
                        device=item.device,
                        from_=item.sender,
                        sender_name=item.sender_name,
                        type=item.type,
                        text=item.text,
                        media_url=item.media_url,
                        quoted_message_id=item.quoted_message_id,
                        received_at=self._api.iso(item.received_at),
                    )
                    for item in found
                ],
                next_cursor=str(found[-1].id) if len(found) == limit else None,
            )
        )

    async def inbound_media(self, request: Request) -> Response:
        """The file an inbound message carried, as Kurir kept it when it arrived.

        Served as an attachment that may run nothing: a recipient chose its
        bytes and its type, and the dashboard shares this origin.
        """
        account_id = await self._api.account_id(request)
        message_id = request.path_params["message_id"]
        found = None
        if is_message_id(message_id):
            found = await self._api.store.read(
                inbound.inbound_file, account_id=account_id, message_id=message_id
            )
        if found is None:
            raise ApiError(404, f"no file of an inbound message {message_id[:40]!r}")
        disposition = "attachment"
        if found.filename:
            disposition += f"; filename*=UTF-8''{urllib.parse.quote(found.filename)}"
        return Response(
            found.data,
            media_type=found.content_type,
            headers={
                "Content-Disposition": disposition,
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    # -- operations ------------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        await self._api.store.read(accounts.count_accounts)
        return ok(HealthResponse())


def _profile(stored: str | None) -> DeviceProfileData | None:
    return None if stored is None else msgspec.json.decode(stored, type=DeviceProfileData)


def _message_id(request: Request) -> str:
    message_id: str = request.path_params["message_id"]
    if not is_message_id(message_id):
        raise ApiError(404, f"message {message_id[:40]!r} not found")
    return message_id


def _message_not_found(request: Request) -> ApiError:
    return ApiError(404, f"message {request.path_params['message_id']} not found")
