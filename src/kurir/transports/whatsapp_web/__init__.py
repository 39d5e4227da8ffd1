"""WhatsApp Web: a device is a WhatsApp number linked to Kurir as a phone links WhatsApp Web.

The number is linked by scanning a QR code (or typing a pairing code) on the
phone; from then on Kurir sends as that number through whatsmeow, by way of
neonize. Each device's client runs in a session process of its own, started
by the worker that holds the device and ended when it lets go
(`kurir.transports.whatsapp_web.session`, `.supervisor`): neonize's Go side
cannot safely host two clients in one process, and a crash there takes down
one device only. Nothing outside the session process imports neonize.

A device's config:

``buttons``
    ``"text"`` (the default): button messages go out as a numbered text,
    answered by number or label; ``"native"``: as native-flow quick replies
    (a single-select list beyond three), which linked devices show unreliably.
``check_numbers``
    before the first message to a recipient, ask WhatsApp whether the number
    is on it, and fail the message at once if not.

WhatsApp chooses each message's id; it is known only when the send returns
and is recorded at once, so a crash in between can send that one message
twice (at-least-once).
"""

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import msgspec

from kurir.clock import now_ms
from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import WHATSAPP_LIMITS, MediaMessage, TextMessage, kind_of
from kurir.store import Store
from kurir.transports.base import (
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    Transport,
    TransportContext,
)
from kurir.transports.registry import register
from kurir.transports.whatsapp_web import store as db
from kurir.transports.whatsapp_web.keystore import KeyStore
from kurir.transports.whatsapp_web.layout import buttons_as_text
from kurir.transports.whatsapp_web.protocol import (
    CheckNumbers,
    SendButtons,
    SendMedia,
    SendText,
    ToSession,
)
from kurir.transports.whatsapp_web.supervisor import DeviceSession
from kurir.transports.whatsapp_web.watcher import RequestWatcher

log = logging.getLogger("kurir.whatsapp_web")

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.routing import BaseRoute

    from kurir.api.context import ApiContext


class WhatsAppWebConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    buttons: Literal["text", "native"] = "text"
    check_numbers: bool = False


@register
class WhatsAppWebTransport(Transport):
    """Sends as a linked WhatsApp number; WhatsApp's own limits apply."""

    name = "whatsapp-web"
    config_type = WhatsAppWebConfig
    limits = WHATSAPP_LIMITS
    # A number that sends like a person keeps out of WhatsApp's spam rules.
    default_pacing_ms = (3000, 8000)

    config: WhatsAppWebConfig

    def __init__(self, config: WhatsAppWebConfig, context: TransportContext) -> None:
        super().__init__(config, context)
        self._keys = KeyStore(context.store, context.device.id)
        self.session = DeviceSession(context, self._keys)
        self._sent = context.store.committer(db.record_sent)
        self._watcher = RequestWatcher.of(context.store)

    @classmethod
    def http_routes(cls, api: "ApiContext") -> Sequence["BaseRoute"]:
        from kurir.transports.whatsapp_web.http import whatsapp_web_routes  # the API imports us

        return whatsapp_web_routes(api, cls.name)

    async def open(self) -> None:
        # The session starts in the background: a worker opens its devices one
        # after another, and a session takes a second or more to connect.
        self.session.start()
        self._watcher.add(self.context.device.id, self.session.wake)

    @classmethod
    async def forget_device(cls, store: Store, device_id: int) -> None:
        keys = KeyStore(store, device_id)
        await keys.row()  # the JID its keys are found by, which stays with the removed device
        await keys.forget()

    async def close(self) -> None:
        self._watcher.remove(self.context.device.id)
        await self.session.close()
        store, device_id = self.context.store, self.context.device.id
        # Removed: the keys go, now that its session has ended and writes them no more.
        try:
            if await store.read(db.device_removed, device_id=device_id):
                await self.forget_device(store, device_id)
        except Exception:  # the worker lets go of the device all the same
            log.exception("device %s: its keys could not be deleted", self.context.device.public_id)

    async def send(self, message: OutboundMessage) -> str:
        if self.config.check_numbers:
            await self._check_recipient(message.recipient)
        answer = await self.session.request(self._request(message), tag=message.message_id)
        if answer.error is not None:
            error = PermanentSendError if answer.permanent else TransientSendError
            raise error(f"WhatsApp: {answer.error}")
        if answer.value is None:
            raise TransientSendError("WhatsApp Web: the send returned no message id")
        # Recorded the moment the send returns: receipts and replies name this id.
        await self._sent.submit(
            db.SentMessage(
                device_id=self.context.device.id,
                provider_id=answer.value,
                message_id=message.message_id,
                sent_at=now_ms(),
            )
        )
        return answer.value

    def _request(self, message: OutboundMessage) -> "Callable[[int], ToSession]":
        to = message.recipient
        content = message.content
        if isinstance(content, TextMessage):
            text = content.body
            return lambda number: SendText(request=number, to=to, text=text)
        if isinstance(content, MediaMessage):
            media = message.media
            if media is None:
                raise TransientSendError("the media file was not fetched")
            caption, filename = content.caption, content.filename
            return lambda number: SendMedia(
                request=number,
                to=to,
                media_type=str(media.media_type),
                content_type=media.content_type,
                data=media.data,
                caption=caption,
                filename=filename,
            )
        if not isinstance(content, ButtonMessage):  # not in its limits' kinds: refused at accept
            raise PermanentSendError(f"WhatsApp Web cannot send a {kind_of(content)} message")
        if self.config.buttons == "native":
            buttons = content
            return lambda number: SendButtons(
                request=number,
                to=to,
                header=buttons.header,
                body=buttons.body,
                footer=buttons.footer,
                labels=buttons.buttons,
            )
        layout = buttons_as_text(content)
        return lambda number: SendText(request=number, to=to, text=layout)

    async def _check_recipient(self, phone: str) -> None:
        """Fail a message to a number that is not on WhatsApp, asking once per number."""
        store, device_id = self.context.store, self.context.device.id
        known = await store.read(db.known_numbers, device_id=device_id, phones=[phone])
        if phone not in known:
            answer = await self.session.request(
                lambda number: CheckNumbers(request=number, phones=(phone,))
            )
            if answer.error is not None:
                raise TransientSendError(f"WhatsApp: could not check {phone}: {answer.error}")
            known = {phone: phone in answer.values}
            await store.write(db.remember_numbers, device_id=device_id, found=known, now=now_ms())
        if not known[phone]:
            raise PermanentSendError(f"recipient {phone} is not on WhatsApp")
