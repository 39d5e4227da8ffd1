"""Transports: the ways a message can leave Kurir, chosen per device by name.

`base` holds the interface; each provider has a module of its own. `build`
turns a device's transport name and JSON config into a ready transport.
"""

import msgspec

from kurir.domain.buttons import ButtonLimits
from kurir.domain.errors import ValidationError
from kurir.store.records import SandboxDelivery
from kurir.transports.base import (
    OutboundMessage,
    PermanentSendError,
    SendError,
    TransientSendError,
    Transport,
)
from kurir.transports.sandbox import RecordDelivery, SandboxTransport, read_sandbox_config

__all__ = [
    "TRANSPORT_NAMES",
    "OutboundMessage",
    "PermanentSendError",
    "SendError",
    "TransientSendError",
    "Transport",
    "TransportConfigError",
    "build_transport",
    "transport_limits",
]

TRANSPORT_NAMES = ("sandbox",)


class TransportConfigError(ValueError):
    """A device's transport name or config cannot be used."""


def build_transport(
    name: str, config_json: str, *, record_delivery: RecordDelivery, default_region: str
) -> Transport:
    """A transport for one device, from the name and config stored with it.

    Phone numbers in the config are read as a request's are, national ones in
    ``default_region``.
    """
    if name == "sandbox":
        try:
            config = read_sandbox_config(config_json, default_region)
        except msgspec.DecodeError as error:
            raise TransportConfigError(f"sandbox config: {error}") from error
        except ValidationError as error:
            raise TransportConfigError(f"sandbox config: {error.message}") from error
        return SandboxTransport(config, record_delivery)
    raise TransportConfigError(f"unknown transport {name!r}; known: {', '.join(TRANSPORT_NAMES)}")


def transport_limits(name: str) -> ButtonLimits:
    """What a transport can carry, known without building it (the accept path needs only this)."""
    if name == "sandbox":
        return SandboxTransport.limits
    raise TransportConfigError(f"unknown transport {name!r}")


def validate_transport_config(name: str, config_json: str, *, default_region: str) -> None:
    """Raise TransportConfigError unless ``config_json`` suits transport ``name``."""

    async def _nowhere(_delivery: SandboxDelivery) -> None:
        return None

    build_transport(name, config_json, record_delivery=_nowhere, default_region=default_region)
