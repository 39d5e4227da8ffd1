"""The routes Meta calls: ``/webhooks/cloud/{device}``, one per device, without an API key.

``GET`` is Meta's check of the URL when it is registered: the device's
``verify_token`` must come back, and the challenge is echoed. ``POST``
carries notifications; each is signed with the app's secret
(``X-Hub-Signature-256``, HMAC-SHA256 of the raw bytes), and nothing is read
or stored before that signature is checked (in constant time). A signed
delivery is recorded, applied and marked applied in one transaction, then
answered 200; see `kurir.transports.cloud.store` for why a crash in between
loses nothing and a redelivery is applied once.

Only the device's own number is applied: a notification about another
business number, even one signed with the same app secret, changes nothing.
"""

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
from kurir.domain.contacts import opt_out_words
from kurir.domain.devices import is_device_id
from kurir.sealing import secret_box
from kurir.store import Overloaded, accounts
from kurir.store.provider_reports import ProviderReports, ReportedMessage, ReportedStatus
from kurir.store.records import ButtonPress, Device
from kurir.transports.cloud.config import CloudConfig
from kurir.transports.cloud.store import (
    Applied,
    ReceivedWebhook,
    TakenWebhook,
    apply_recorded,
    record_webhooks,
    take_webhooks,
)
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
    taken = api.store.committer(take_webhooks)
    inbox = api.store.committer(record_webhooks)
    reply_window_ms = round(api.settings.reply_window_seconds * 1000)
    stop_words = opt_out_words(api.settings.opt_out_words)

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
        received = ReceivedWebhook(
            device_id=device.id,
            digest=hashlib.sha256(body).hexdigest(),
            body=body.decode("utf-8", "replace"),
            received_at=now_ms(),
        )
        try:
            notification = read_notification(body, found.config.phone_number_id)
        except MalformedNotification as error:
            # Kept with its body; answering otherwise would only have Meta send it again.
            webhook = TakenWebhook(received, None, str(error))
        else:
            if notification.foreign:
                log.warning(
                    "device %s: %d webhook changes about another business number left out",
                    device.public_id,
                    notification.foreign,
                )
            webhook = TakenWebhook(received, reports(device, notification))
        try:
            applied_now = await taken.submit(webhook)
        except Overloaded:
            raise
        except Exception as error:  # its batch failed, maybe for another delivery's sake
            log.warning(
                "device %s: webhook %s…: its batch failed (%s); trying it on its own",
                device.public_id,
                received.digest[:12],
                error,
            )
            applied_now = await on_its_own(webhook)
        if applied_now and webhook.error is not None:
            log.warning(
                "device %s: webhook %s… not applied: %s",
                device.public_id,
                received.digest[:12],
                webhook.error,
            )
        return ok(WebhookAccepted())

    async def on_its_own(webhook: TakenWebhook) -> bool:
        """Record the delivery in a commit of its own, then apply and mark it in another.

        Should applying fail again, the delivery stays recorded with its body
        and the error answers Meta, which sends it again.
        """
        recorded = await inbox.submit(webhook.received)
        if recorded.applied:
            return False
        applied = Applied(id=recorded.id, at=now_ms(), error=webhook.error)
        return await api.store.write(apply_recorded, applied, webhook.reports)

    def reports(device: Device, notification: Notification) -> ProviderReports:
        return ProviderReports(
            device_id=device.id,
            account_id=device.account_id,
            statuses=[
                ReportedStatus(s.wamid, s.status, s.at, s.message_id, s.reason)
                for s in notification.statuses
            ],
            presses=[
                ButtonPress(message_id=r.message_id, sender=r.sender, index=r.index, at=r.at)
                for r in notification.replies
            ],
            messages=[ReportedMessage(m.message, m.quoted_wamid) for m in notification.messages],
            reply_window_ms=reply_window_ms,
            opt_out_words=stop_words,
        )

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
