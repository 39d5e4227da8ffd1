"""The sandbox: a stand-in for WhatsApp, so anyone can integrate on a laptop.

It "delivers" a message by recording it (and its delivery receipt) in
Kurir's own database, where a person or a test can read it back and answer as
the recipient. Deliveries are keyed by message id, so a message resent after
a crash is still delivered only once, as WhatsApp does for a resent id.

A device's config can make it behave like a troubled WhatsApp account, to see
retries and failures before production does:

``fail_attempts``
    each message's first N attempts fail as a network error would (transient).
``not_on_whatsapp``
    recipients that fail permanently, as numbers without a WhatsApp account do.
``latency_ms``
    each send is answered this long after its delivery, as a slow provider's
    is: messages stay in flight, and a crash meanwhile cuts a send off.
"""

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from kurir.clock import now_ms
from kurir.domain.buttons import WHATSAPP_LIMITS
from kurir.store.records import SandboxDelivery
from kurir.transports.base import (
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    Transport,
)

RecordDelivery = Callable[[SandboxDelivery], Awaitable[None]]


class SandboxConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    fail_attempts: int = 0
    not_on_whatsapp: tuple[str, ...] = ()
    latency_ms: int = 0


class SandboxTransport(Transport):
    """Records deliveries instead of sending them; WhatsApp's own limits apply."""

    limits = WHATSAPP_LIMITS

    def __init__(self, config: SandboxConfig, record_delivery: RecordDelivery) -> None:
        self._config = config
        self._record_delivery = record_delivery

    async def send(self, message: OutboundMessage) -> str:
        if message.attempt <= self._config.fail_attempts:
            raise TransientSendError(
                f"sandbox: simulated network failure (attempt {message.attempt} "
                f"of the first {self._config.fail_attempts})"
            )
        if message.recipient in self._config.not_on_whatsapp:
            raise PermanentSendError(f"recipient {message.recipient} is not on WhatsApp")
        await self._record_delivery(
            SandboxDelivery(
                message_id=message.message_id,
                device_id=message.device_id,
                recipient=message.recipient,
                content=msgspec.json.encode(message.content).decode(),
                delivered_at=now_ms(),
            )
        )
        if self._config.latency_ms > 0:
            await asyncio.sleep(self._config.latency_ms / 1000)
        return message.message_id
