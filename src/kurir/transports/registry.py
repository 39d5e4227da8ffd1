"""The one place a transport is found by name: its class, its config type and its limits.

Each transport module registers its class with `register` when imported;
`kurir.transports` imports the built-in ones. The CLI's choices, config
validation, the accept path's limits and the dispatcher all read from here,
so adding a transport touches no other module.
"""

from typing import Any, TypeVar

import msgspec

from kurir.domain.content import TransportLimits
from kurir.domain.devices import DeviceProfile
from kurir.domain.errors import ValidationError
from kurir.sealing import SealingError, SecretBox, open_config, seal_config
from kurir.transports.base import CredentialsRefused, Transport, TransportContext


class TransportConfigError(ValueError):
    """A device's transport name or config cannot be used; the message says why."""


_TRANSPORTS: dict[str, type[Transport]] = {}

T = TypeVar("T", bound=type[Transport])


def register(cls: T) -> T:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _TRANSPORTS:
        raise RuntimeError(f"two transports are named {cls.name!r}")
    _TRANSPORTS[cls.name] = cls
    return cls


def transport_names() -> tuple[str, ...]:
    return tuple(sorted(_TRANSPORTS))


def transport_class(name: str) -> type[Transport]:
    found = _TRANSPORTS.get(name)
    if found is None:
        raise TransportConfigError(
            f"unknown transport {name!r}; known: {', '.join(transport_names())}"
        )
    return found


def transport_limits(name: str) -> TransportLimits:
    """What a transport can carry, known without building it (the accept path needs only this)."""
    return transport_class(name).limits


def default_transport() -> str:
    """The name of the transport a new account's first device uses."""
    return next(name for name, cls in _TRANSPORTS.items() if cls.default)


def read_config(
    name: str, config_json: str, *, default_region: str, secrets: SecretBox | None = None
) -> Any:
    """A device's stored JSON config as its transport's config type, or TransportConfigError.

    Its sealed secrets are opened with ``secrets`` (the process's
    ``KURIR_SECRET_KEY``); no message ever holds a secret's value.
    """
    cls = transport_class(name)
    try:
        opened = open_config(config_json, cls.secret_fields, secrets, transport=name)
        return cls.read_config(opened, default_region=default_region)
    except msgspec.DecodeError as error:
        raise TransportConfigError(f"{name} config: {error}") from None
    except ValidationError as error:
        raise TransportConfigError(f"{name} config: {error.message}") from None
    except SealingError as error:
        raise TransportConfigError(f"{name} config: {error}") from None


def config_to_store(name: str, config_json: str, *, secrets: SecretBox | None) -> str:
    """A config as a new device stores it: its secrets sealed when a key is set."""
    return seal_config(config_json, transport_class(name).secret_fields, secrets, transport=name)


async def check_credentials(name: str, config: Any) -> DeviceProfile | None:
    """Ask ``name``'s provider whether ``config`` works; TransportConfigError if not."""
    try:
        return await transport_class(name).check_credentials(config)
    except CredentialsRefused as error:
        raise TransportConfigError(f"{name} config: {error}") from None


def build_transport(
    name: str,
    config_json: str,
    context: TransportContext,
    *,
    default_region: str,
    secrets: SecretBox | None = None,
) -> Transport:
    """A transport for one device, from the name and config stored with it."""
    config = read_config(name, config_json, default_region=default_region, secrets=secrets)
    return transport_class(name)(config, context)


def all_transports() -> tuple[type[Transport], ...]:
    return tuple(_TRANSPORTS[name] for name in transport_names())
