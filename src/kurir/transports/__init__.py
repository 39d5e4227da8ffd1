"""Transports: the ways a message can leave Kurir, chosen per device by name.

`base` holds the interface, `registry` finds a transport by name, and each
provider has a module or package of its own that registers itself; importing
this package imports the built-in ones.
"""

from kurir.transports import cloud, sandbox, whatsapp_web
from kurir.transports.base import (
    CredentialsRefused,
    DeviceInfo,
    MediaFile,
    OutboundMessage,
    PermanentSendError,
    SendError,
    TransientSendError,
    Transport,
    TransportContext,
    TransportEvents,
)
from kurir.transports.registry import (
    TransportConfigError,
    all_transports,
    build_transport,
    check_credentials,
    config_to_store,
    default_transport,
    read_config,
    transport_limits,
    transport_names,
)

__all__ = [
    "CredentialsRefused",
    "DeviceInfo",
    "MediaFile",
    "OutboundMessage",
    "PermanentSendError",
    "SendError",
    "TransientSendError",
    "Transport",
    "TransportConfigError",
    "TransportContext",
    "TransportEvents",
    "all_transports",
    "build_transport",
    "check_credentials",
    "cloud",
    "config_to_store",
    "default_transport",
    "read_config",
    "sandbox",
    "transport_limits",
    "transport_names",
    "whatsapp_web",
]
