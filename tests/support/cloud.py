"""A ``cloud`` device's config for the Graph API stand-in, and a sink that remembers reports."""

import json
from dataclasses import dataclass, field
from typing import Any

from kurir.domain.status import MessageStatus
from kurir.store.records import ButtonPress, InboundMessage
from tests.support.graph_standin import GraphStandin

VERIFY_TOKEN = "kurir-verify-token"


def cloud_config(graph: GraphStandin, **overrides: Any) -> dict[str, Any]:
    """A device config that reaches ``graph`` with the credentials it accepts."""
    return {
        "phone_number_id": graph.phone.id,
        "access_token": graph.access_token,
        "app_secret": graph.app_secret,
        "verify_token": VERIFY_TOKEN,
        "base_url": graph.base_url,
        **overrides,
    }


def cloud_config_json(graph: GraphStandin, **overrides: Any) -> str:
    return json.dumps(cloud_config(graph, **overrides))


@dataclass
class RecordingEvents:
    """A transport's sink that keeps what it is told, in order (the store is not under test)."""

    receipts: list[tuple[str, MessageStatus, int, str | None]] = field(default_factory=list)
    presses: list[ButtonPress] = field(default_factory=list)
    inbound_messages: list[InboundMessage] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    async def receipt(
        self, message_id: str, status: MessageStatus, at: int, reason: str | None = None
    ) -> None:
        self.receipts.append((message_id, status, at, reason))

    async def button_press(self, press: ButtonPress) -> None:
        self.presses.append(press)

    async def inbound(self, message: InboundMessage) -> None:
        self.inbound_messages.append(message)

    async def device_state(self, state: str) -> None:
        self.states.append(state)
