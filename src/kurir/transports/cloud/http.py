"""The routes Meta calls: ``/webhooks/cloud/{device}``, one per device, without an API key.

``GET`` is Meta's check of the URL when it is registered: the device's
``verify_token`` must come back, and the challenge is echoed. ``POST``
carries notifications; each is signed with the app's secret
(``X-Hub-Signature-256``, HMAC-SHA256 of the raw bytes), and nothing is read
or stored before that signature is checked (in constant time). A signed
delivery is recorded, then applied through the device's sink, then
answered 200; see `kurir.transports.cloud.store` for why a crash in between
loses nothing and a redelivery is applied once.

Only the device's own number is applied: a notification about another
business number, even one signed with the same app secret, changes nothing.
"""

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from kurir.api.auth import LookupCache
from kurir.api.body import read_body
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.api.types import WebhookAccepted
from kurir.clock import now_ms
from kurir.domain.devices import is_device_id
from kurir.sealing import secret_box
from kurir.store import accounts
from kurir.store.reading import message_ids_by_provider_id
from kurir.store.records import ButtonPress, Device
from kurir.transports.cloud.config import CloudConfig
from kurir.transports.cloud.store import Applied, ReceivedWebhook, mark_applied, record_webhooks
from kurir.transports.cloud.webhooks import MalformedNotification, Notification, read_notification
from kurir.transports.registry import TransportConfigError, read_config

log = logging.getLogger("kurir.transports.cloud")

#: Meta's notifications are at most 3 MB.
MAX_WEBHOOK_BYTES = 3 * 1024 * 1024
#: Meta's challenge is a number; anything much longer is not Meta.
_MAX_CHALLENGE = 256
_SIGNATURE_PREFIX = "sha256="


Handler = Callable[[Request], Awaitable[Response]]


class _CloudDevice(msgspec.Struct, frozen=True):
    device: Device
    config: CloudConfig


def cloud_routes(api: ApiContext, transport: str) -> list[BaseRoute]:
    """The routes, bound to one API process; ``transport`` is the Cloud API's name."""
    box = secret_box(api.settings.secret_key)
    inbox = api.store.committer(record_webhooks)
    applied = api.store.committer(mark_applied)

    async def load(public_id: str) -> _CloudDevice | None:
        device = await api.store.read(accounts.find_device, public_id)
        if device is None or device.transport != transport:
            return None
        try:
            config = read_config(
                transport, device.config, default_region=api.settings.default_region, secrets=box
            )
        except TransportConfigError as error:
            # Its signatures cannot be checked; the worker shows the same as its state.
            log.warning("device %s: %s; its webhooks are refused", public_id, error)
            return None
        return _CloudDevice(device, config)

    devices = LookupCache(api.settings.auth_cache_seconds, load)

    async def cloud_device(request: Request) -> _CloudDevice:
        public_id: str = request.path_params["device"]
        found = await devices.get(public_id) if is_device_id(public_id) else None
        if found is None:
            raise ApiError(404, f"no {transport} device {public_id[:64]!r}")
        return found

    async def verify(request: Request) -> Response:
        found = await cloud_device(request)
        params = request.query_params
        token = params.get("hub.verify_token", "")
        expected = found.config.verify_token
        if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token.encode(), expected.encode()
        ):
            raise ApiError(403, "hub.verify_token does not match the device's verify_token")
        challenge = params.get("hub.challenge", "")
        if not challenge or len(challenge) > _MAX_CHALLENGE or not challenge.isprintable():
            raise ApiError(400, "hub.challenge must be what Meta sent: 1 to 256 characters")
        return PlainTextResponse(challenge, headers={"X-Content-Type-Options": "nosniff"})

    async def receive(request: Request) -> Response:
        found = await cloud_device(request)
        body = await read_body(request, MAX_WEBHOOK_BYTES)
        if not _signed(body, request.headers.get("x-hub-signature-256"), found.config):
            raise ApiError(
                403, "X-Hub-Signature-256 is missing or is not the body's signature with app_secret"
            )
        device = found.device
        recorded = await inbox.submit(
            ReceivedWebhook(
                device_id=device.id,
                digest=hashlib.sha256(body).hexdigest(),
                body=body.decode("utf-8", "replace"),
                received_at=now_ms(),
            )
        )
        if recorded.applied:
            return ok(WebhookAccepted())  # Meta's redelivery of one applied before
        try:
            notification = read_notification(body, found.config.phone_number_id)
        except MalformedNotification as error:
            # Kept with its body; answering otherwise would only have Meta send it again.
            log.warning(
                "device %s: webhook %d not applied: %s", device.public_id, recorded.id, error
            )
            await applied.submit(Applied(id=recorded.id, at=now_ms(), error=str(error)))
            return ok(WebhookAccepted())
        if notification.foreign:
            log.warning(
                "device %s: %d webhook changes about another business number left out",
                device.public_id,
                notification.foreign,
            )
        await _apply(api, device, notification)
        await applied.submit(Applied(id=recorded.id, at=now_ms()))
        return ok(WebhookAccepted())

    return [
        Route(
            "/webhooks/cloud/{device}",
            _by_method(verify, receive),
            methods=["GET", "POST"],
        )
    ]


def _by_method(verify: Handler, receive: Handler) -> Handler:
    """One route for both methods, so a 405 names both in ``Allow``."""

    async def endpoint(request: Request) -> Response:
        return await (receive if request.method == "POST" else verify)(request)

    return endpoint


def _signed(body: bytes, header: str | None, config: CloudConfig) -> bool:
    """Whether ``header`` is Meta's signature of ``body`` with the app secret."""
    if header is None or not header.startswith(_SIGNATURE_PREFIX):
        return False
    expected = hmac.new(config.app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len(_SIGNATURE_PREFIX) :].strip().encode(), expected.encode())


async def _apply(api: ApiContext, device: Device, notification: Notification) -> None:
    """Report what the notification says through the device's sink, in Kurir's ids."""
    events = api.events_for(device)
    wanted = {s.wamid for s in notification.statuses if s.message_id is None}
    wanted.update(m.quoted_wamid for m in notification.messages if m.quoted_wamid is not None)
    known = (
        await api.store.read(message_ids_by_provider_id, device_id=device.id, provider_ids=wanted)
        if wanted
        else {}
    )
    receipts = []
    for status in notification.statuses:
        message_id = status.message_id or known.get(status.wamid)
        if message_id is not None:
            receipts.append(events.receipt(message_id, status.status, status.at, status.reason))
    # Receipts only move a message forward, so they may go in together, in one commit.
    await asyncio.gather(*receipts)
    for reply in notification.replies:
        await events.button_press(
            ButtonPress(
                message_id=reply.message_id, sender=reply.sender, index=reply.index, at=reply.at
            )
        )
    for report in notification.messages:
        message = report.message
        quoted = known.get(report.quoted_wamid) if report.quoted_wamid is not None else None
        if quoted is not None:
            message = msgspec.structs.replace(message, quoted_message_id=quoted)
        await events.inbound(message)
