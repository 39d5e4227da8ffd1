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
    recipients that fail permanently, as numbers without a WhatsApp account do;
    written in any notation a request may use, read with the same rule.
``latency_ms``
    each send is answered this long after its delivery, as a slow provider's
    is: messages stay in flight, and a crash meanwhile cuts a send off.
"""

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from kurir.clock import now_ms
from kurir.domain.buttons import WHATSAPP_LIMITS
from kurir.domain.phone import normalise_phone
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


def read_sandbox_config(config_json: str, default_region: str) -> SandboxConfig:
    """A device's stored config, its numbers normalised as recipients are.

    Raises msgspec's DecodeError for a config of the wrong shape and
    ValidationError for a number that is none.
    """
    config = msgspec.json.decode(config_json or "{}", type=SandboxConfig)
    numbers = tuple(
        normalise_phone(raw, default_region, field="not_on_whatsapp")
        for raw in config.not_on_whatsapp
    )
    return msgspec.structs.replace(config, not_on_whatsapp=numbers)


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
