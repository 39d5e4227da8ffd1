"""WhatsApp's Cloud API: Meta's official route, where reply buttons and lists render.

A device is a business number in Meta's console. Sends are ``POST
/{phone_number_id}/messages`` on the Graph API (`payloads` builds them,
`errors` reads refusals, `graph` speaks HTTP); Meta's webhooks come back to
``/webhooks/cloud/{device}`` (`http`), are read by `webhooks`, and are
recorded, applied and marked applied in one transaction (`store`). Setting
a device up is described in docs/cloud-api.md.

The transport keeps Meta's limits itself, besides the device's pacing: at
most ``messages_per_second`` sends a second (Meta's default throughput is
80), and a recipient hit by the pair rate limit (one message per 6 seconds)
is tried again no sooner than that.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kurir.domain.content import MessageKind, TransportLimits
from kurir.domain.devices import DeviceProfile
from kurir.transports.base import (
    CredentialsRefused,
    OutboundMessage,
    SendError,
    Transport,
    TransportContext,
)
from kurir.transports.cloud.config import SECRET_FIELDS, CloudConfig, read_cloud_config
from kurir.transports.cloud.errors import CredentialsInvalid
from kurir.transports.cloud.graph import GraphClient
from kurir.transports.cloud.payloads import message_payload
from kurir.transports.cloud.store import cloud_webhooks
from kurir.transports.registry import register

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from kurir.api.context import ApiContext

__all__ = ["CloudConfig", "CloudTransport", "cloud_webhooks"]

log = logging.getLogger("kurir.transports.cloud")

#: The state a device is in while Meta refuses its credentials.
CREDENTIALS_INVALID = "credentials_invalid"
CONNECTED = "connected"
#: How long adding a device waits for Meta to answer the credential check.
_CHECK_TIMEOUT_S = 15.0


class SendRate:
    """At most ``per_second`` sends a second, evenly spaced."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)


@register
class CloudTransport(Transport):
    """Sends through Meta's Graph API with the device's number and token."""

    name = "cloud"
    config_type = CloudConfig
    limits = TransportLimits(kinds=frozenset(MessageKind))  # WhatsApp's own, and templates
    secret_fields = SECRET_FIELDS

    config: CloudConfig

    def __init__(self, config: CloudConfig, context: TransportContext) -> None:
        super().__init__(config, context)
        self._graph = GraphClient(config)
        self._rate = SendRate(config.messages_per_second)
        #: The state this transport last reported; None before its first send.
        self._state: str | None = None

    @classmethod
    def read_config(cls, config_json: str, *, default_region: str) -> CloudConfig:
        return read_cloud_config(config_json)

    @classmethod
    async def check_credentials(cls, config: CloudConfig) -> DeviceProfile:
        """``GET /{phone_number_id}``: the token works for this number, and how Meta shows it."""
        async with GraphClient(config, timeout_s=_CHECK_TIMEOUT_S) as graph:
            try:
                return await graph.profile()
            except CredentialsInvalid as error:
                raise CredentialsRefused(str(error)) from None
            except SendError as error:
                raise CredentialsRefused(
                    f"could not check the credentials with Meta: {error}"
                ) from None

    @classmethod
    def http_routes(cls, api: "ApiContext") -> Sequence["BaseRoute"]:
        from kurir.transports.cloud.http import cloud_routes  # the API imports transports

        return cloud_routes(api, cls.name)

    async def send(self, message: OutboundMessage) -> str:
        await self._rate.wait()
        payload = message_payload(message, list_button_label=self.config.list_button_label)
        try:
            wamid = await self._graph.send(payload)
        except CredentialsInvalid:
            await self._report(CREDENTIALS_INVALID)
            raise
        await self._report(CONNECTED)
        return wamid

    async def close(self) -> None:
        await self._graph.aclose()

    async def _report(self, state: str) -> None:
        """Tell the device's owner of a change: once per change, not once per message."""
        if state == self._state:
            return
        self._state = state
        if state == CREDENTIALS_INVALID:
            log.warning("device %s: Meta refuses its credentials", self.context.device.public_id)
        await self.context.events.device_state(state)
