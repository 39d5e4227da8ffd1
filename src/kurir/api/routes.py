"""The HTTP endpoints: Alat WA's /send/button and the rest of Kurir's API.

Handlers translate between HTTP and the domain and store; they hold no SQL
and no rules of their own beyond picking fields out of requests.
"""

import hashlib

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from kurir.api.auth import Authenticator, device_not_found
from kurir.api.body import FormFields, read_fields, whole_number
from kurir.api.errors import ApiError
from kurir.api.ratelimit import RateLimiter
from kurir.api.requests import SandboxReplyRequest, SendButtonRequest, convert_fields
from kurir.api.types import (
    CancelResponse,
    DeviceData,
    DeviceListResponse,
    HealthResponse,
    MessageResponse,
    SandboxDeliveriesResponse,
    SandboxDeliveryData,
    SandboxReplyResponse,
    SendResponse,
)
from kurir.api.views import content_data, iso_time, message_data
from kurir.clock import now_ms, to_datetime, to_ms
from kurir.config import Settings
from kurir.domain.buttons import ButtonMessage, build_button_message, find_button
from kurir.domain.errors import ValidationError
from kurir.domain.ids import is_message_id, new_message_id
from kurir.domain.phone import normalise_phone
from kurir.domain.schedule import is_immediate, parse_schedule
from kurir.domain.status import MessageStatus
from kurir.store import Store, accounts, messages
from kurir.store.records import Accepted, Device, DeviceRemoved, NewMessage
from kurir.transports import transport_limits

_ENCODER = msgspec.json.Encoder()
_MAX_IDEMPOTENCY_KEY = 255
#: Positions in a form reply are read up to this; any that large is out of range anyway.
_MAX_POSITION = 999_999_999


def _ok(body: msgspec.Struct) -> Response:
    return Response(_ENCODER.encode(body), media_type="application/json")


class Routes:
    """Handlers bound to one process's store, settings and dispatcher."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._auth = Authenticator(store, settings.auth_cache_seconds)
        self._limiter = RateLimiter(settings.rate_limit_per_second)
        self._zone = settings.zone

    # -- sending --------------------------------------------------------------

    async def send_button(self, request: Request) -> Response:
        account_id = await self._auth.account_id(request.headers.get("authorization"))
        if not self._limiter.allow(account_id):
            raise ApiError(429, "Rate limit exceeded; slow down", {"Retry-After": "1"})
        idempotency_key = _idempotency_key(request)
        fields = await read_fields(request, self._settings.max_body_bytes)
        send = convert_fields(fields, SendButtonRequest)
        schedule_raw = send.schedule

        device = await self._auth.device(account_id, send.device)
        content = build_button_message(
            header=send.message_header,
            body=send.message,
            footer=send.message_footer,
            buttons=send.buttons,
            limits=transport_limits(device.transport),
        )
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
        encoded = _ENCODER.encode(content).decode()
        fingerprint = None
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(
                _ENCODER.encode([device.public_id, recipient, encoded, schedule_raw or ""])
            ).hexdigest()
        result = await self._store.accept(
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
            self._auth.forget_device(device.public_id)
            raise device_not_found(device.public_id)
        if not isinstance(result, Accepted):
            raise ApiError(
                409,
                "Idempotency-Key was already used for a different request "
                f"(message {result.message_id})",
            )
        return _ok(
            SendResponse(message_id=result.message_id, from_=device.phone, to=result.recipient)
        )

    # -- messages ---------------------------------------------------------------

    async def get_message(self, request: Request) -> Response:
        account_id = await self._auth.account_id(request.headers.get("authorization"))
        view = await self._store.read(
            messages.get_message, _message_id(request), account_id=account_id
        )
        if view is None:
            raise _message_not_found(request)
        return _ok(MessageResponse(data=message_data(view, self._zone)))

    async def cancel_message(self, request: Request) -> Response:
        account_id = await self._auth.account_id(request.headers.get("authorization"))
        message_id = _message_id(request)
        view = await self._store.write(
            messages.cancel_message, message_id, account_id=account_id, now=now_ms()
        )
        if view is None:
            raise _message_not_found(request)
        if view.status != MessageStatus.CANCELLED:
            raise ApiError(
                409, f"message {message_id} is already {view.status}; it can no longer be cancelled"
            )
        return _ok(CancelResponse(message_id=message_id))

    # -- devices ---------------------------------------------------------------

    async def list_devices(self, request: Request) -> Response:
        account_id = await self._auth.account_id(request.headers.get("authorization"))
        found = await self._store.read(accounts.list_devices, account_id=account_id)
        now = now_ms()
        return _ok(
            DeviceListResponse(
                data=[
                    DeviceData(
                        device=device.public_id,
                        phone=device.phone,
                        transport=device.transport,
                        state=_device_state(device, now),
                        min_interval_ms=device.min_interval_ms,
                        max_interval_ms=device.max_interval_ms,
                        created_at=self._iso(device.created_at),
                    )
                    for device in found
                ]
            )
        )

    # -- sandbox ---------------------------------------------------------------

    async def sandbox_reply(self, request: Request) -> Response:
        """Play the recipient: press one of the buttons of the latest message they got."""
        account_id = await self._auth.account_id(request.headers.get("authorization"))
        device = await self._sandbox_device(request, account_id)
        fields = await read_fields(request, self._settings.max_body_bytes)
        reply = convert_fields(fields, SandboxReplyRequest)
        recipient = normalise_phone(str(reply.phone), self._settings.default_region)
        choice = _choice(reply.button, form=isinstance(fields, FormFields))
        target = await self._store.read(
            messages.latest_reply_target, device_id=device.id, recipient=recipient
        )
        if target is None:
            raise ApiError(404, f"device {device.public_id} has sent nothing to {recipient} yet")
        message_id, content_json = target
        content = msgspec.json.decode(content_json, type=ButtonMessage)
        index, label = find_button(content.buttons, choice)
        at = now_ms()
        await self._store.write(
            messages.apply_receipt,
            message_id=message_id,
            status=MessageStatus.READ,
            at=at,
            reply=_ENCODER.encode({"button": label, "index": index, "at": at}).decode(),
        )
        return _ok(SandboxReplyResponse(message_id=message_id, button=label, index=index))

    async def sandbox_deliveries(self, request: Request) -> Response:
        """What the sandbox delivered for a device, newest first."""
        account_id = await self._auth.account_id(request.headers.get("authorization"))
        device = await self._sandbox_device(request, account_id)
        limit = _limit(request)
        found = await self._store.read(
            messages.list_sandbox_deliveries, device_id=device.id, limit=limit
        )
        limits = transport_limits(device.transport)
        return _ok(
            SandboxDeliveriesResponse(
                data=[
                    SandboxDeliveryData(
                        message_id=item.message_id,
                        to=item.recipient,
                        content=content_data(
                            msgspec.json.decode(item.content, type=ButtonMessage), limits
                        ),
                        delivered_at=self._iso(item.delivered_at),
                        sends=item.send_count,
                    )
                    for item in found
                ]
            )
        )

    async def _sandbox_device(self, request: Request, account_id: int) -> Device:
        device = await self._auth.device(account_id, request.path_params["device"])
        if device.transport != "sandbox":
            raise ApiError(
                409, f"device {device.public_id} uses the {device.transport} transport, not sandbox"
            )
        return device

    # -- operations ------------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        await self._store.read(accounts.count_accounts)
        return _ok(HealthResponse())

    def _iso(self, ms: int) -> str:
        return iso_time(ms, self._zone)


def _device_state(device: Device, now: int) -> str:
    return "connected" if device.lease_until is not None and device.lease_until > now else "idle"


def _choice(choice: str | int | None, *, form: bool) -> str | int:
    """The button a reply presses: its label, or its position counted from 1."""
    if form and isinstance(choice, str) and choice.strip().isdigit():
        # A form has only text: "2" there is the position, as the number 2 is in JSON.
        choice = whole_number(choice.strip(), _MAX_POSITION)
    # JSON numbers come as long as msgspec reads them (4,300 digits): none so
    # large is a position, nor worth spelling out in the answer.
    if choice is None or (isinstance(choice, int) and abs(choice) > _MAX_POSITION):
        raise ValidationError("button must be a button's label or its position (from 1)")
    return choice


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > _MAX_IDEMPOTENCY_KEY:
        raise ValidationError(f"Idempotency-Key must be 1 to {_MAX_IDEMPOTENCY_KEY} characters")
    return key


def _message_id(request: Request) -> str:
    message_id: str = request.path_params["message_id"]
    if not is_message_id(message_id):
        raise ApiError(404, f"message {message_id[:40]!r} not found")
    return message_id


def _message_not_found(request: Request) -> ApiError:
    return ApiError(404, f"message {request.path_params['message_id']} not found")


def _limit(request: Request) -> int:
    limit = whole_number(request.query_params.get("limit", "50"), 500)
    if limit is None or limit < 1:
        raise ValidationError("limit must be a whole number from 1 to 500")
    return limit
