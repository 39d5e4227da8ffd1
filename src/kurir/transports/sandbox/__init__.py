"""The sandbox: a stand-in for WhatsApp, so anyone can integrate on a laptop.

It "delivers" a message by recording it in a table of its own, reports the
delivery receipt through the transport event sink as a real provider would,
and serves two routes of its own through which a person or a test reads back
what was delivered and answers as the recipient (`kurir.transports.sandbox.http`).
Every kind plays: a media message's file is fetched by the worker as for any
transport, and the sandbox records the type it was sent as. Deliveries are
keyed by message id, so a message resent after a crash is still delivered
only once, as WhatsApp does for a resent id.

A device's config can make it behave like a troubled WhatsApp account, to see
retries and failures before production does:

``fail_attempts``
    each message's first N attempts fail as a network error would (transient).
``not_on_whatsapp``
    recipients that fail permanently, as numbers without a WhatsApp account do;
    written in any notation a request may use, read with the same rule.
``latency_ms``
    each send is answered this long after its delivery, as a slow provider's
    is: messages stay in flight, and a crash meanwhile cuts a send off.
"""

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from kurir.clock import now_ms
from kurir.domain.content import WHATSAPP_LIMITS, MediaMessage, encode_content
from kurir.domain.phone import normalise_phone
from kurir.domain.status import MessageStatus
from kurir.transports.base import (
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    Transport,
    TransportContext,
)
from kurir.transports.registry import register
from kurir.transports.sandbox.store import SandboxDelivery, record_deliveries

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from kurir.api.context import ApiContext


class SandboxConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fail_attempts: int = 0
    not_on_whatsapp: tuple[str, ...] = ()
    latency_ms: int = 0


@register
class SandboxTransport(Transport):
    """Records deliveries instead of sending them; WhatsApp's own limits apply."""

    name = "sandbox"
    config_type = SandboxConfig
    limits = WHATSAPP_LIMITS
    default = True

    config: SandboxConfig

    def __init__(self, config: SandboxConfig, context: TransportContext) -> None:
        super().__init__(config, context)
        self._deliveries = context.store.committer(record_deliveries)

    @classmethod
    def read_config(cls, config_json: str, *, default_region: str) -> SandboxConfig:
        """The stored config, its numbers normalised as recipients are."""
        config = msgspec.json.decode(config_json or "{}", type=SandboxConfig)
        numbers = tuple(
            normalise_phone(raw, default_region, field="not_on_whatsapp")
            for raw in config.not_on_whatsapp
        )
        return msgspec.structs.replace(config, not_on_whatsapp=numbers)

    @classmethod
    def http_routes(cls, api: "ApiContext") -> Sequence["BaseRoute"]:
        from kurir.transports.sandbox.http import sandbox_routes  # the API imports transports

        return sandbox_routes(api, cls.name)

    async def send(self, message: OutboundMessage) -> str:
        if message.attempt <= self.config.fail_attempts:
            raise TransientSendError(
                f"sandbox: simulated network failure (attempt {message.attempt} "
                f"of the first {self.config.fail_attempts})"
            )
        if message.recipient in self.config.not_on_whatsapp:
            raise PermanentSendError(f"recipient {message.recipient} is not on WhatsApp")
        content = message.content
        if isinstance(content, MediaMessage) and message.media is not None:
            # What WhatsApp would show: the type the file was sent as.
            content = msgspec.structs.replace(content, media_type=message.media.media_type)
        delivered_at = now_ms()
        await self._deliveries.submit(
            SandboxDelivery(
                message_id=message.message_id,
                device_id=message.device.id,
                recipient=message.recipient,
                content=encode_content(content),
                delivered_at=delivered_at,
            )
        )
        await self.context.events.receipt(message.message_id, MessageStatus.DELIVERED, delivered_at)
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        return message.message_id
