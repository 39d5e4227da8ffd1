"""Secrets in device configs, sealed at rest with ``KURIR_SECRET_KEY``.

A transport names the fields of its config that are secrets (an access
token, an app secret); when the operator has set a key, those fields are
stored sealed (AES-256-GCM, a fresh nonce each time) and opened only when a
worker or a provider's webhook needs them. A database copied without the
key gives nothing away. Without a key they are stored as given, and a config
sealed under a key cannot be read without it: a clear error, never garbage.

Each sealed value is bound to its transport and field (the GCM associated
data), so a value cannot be moved into another field and be read there.
"""

import base64
import binascii
import hashlib
import os

import msgspec

#: Sealed values start with this; nothing a person types as a token does.
SEALED_PREFIX = "sealed:v1:"
#: The shortest KURIR_SECRET_KEY accepted: 32 random characters are 190 bits and more.
MIN_KEY_LENGTH = 32
_NONCE_BYTES = 12


class SealingError(ValueError):
    """A sealed config that cannot be opened; the message says why, never the secret."""


class SecretBox:
    """Seals and opens secrets with a key derived from ``KURIR_SECRET_KEY``."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < MIN_KEY_LENGTH:
            raise ValueError(f"the secret key must be at least {MIN_KEY_LENGTH} characters")
        # Imported here: every command reads the settings, few need the cipher.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        # The setting is a random string, not a password: one hash makes it a key.
        digest = hashlib.sha256(b"kurir device secrets\0" + secret_key.encode()).digest()
        self._aead = AESGCM(digest)

    def seal(self, value: str, *, label: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), label.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, value: str, *, label: str) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(value.removeprefix(SEALED_PREFIX))
            opened = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], label.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise SealingError(
                f"{label} was sealed with another KURIR_SECRET_KEY, or is damaged"
            ) from None
        return opened.decode()


def secret_box(secret_key: str) -> SecretBox | None:
    """The box for a ``KURIR_SECRET_KEY`` setting; None when it is not set."""
    return SecretBox(secret_key) if secret_key else None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _fields(config_json: str) -> dict[str, object] | None:
    try:
        decoded = msgspec.json.decode(config_json or "{}")
    except msgspec.DecodeError:
        return None  # the transport's own reading reports it
    return decoded if isinstance(decoded, dict) else None


def seal_config(
    config_json: str, fields: frozenset[str], box: SecretBox | None, *, transport: str
) -> str:
    """``config_json`` with its secret ``fields`` sealed, as stored; unchanged without a box."""
    config = _fields(config_json)
    if box is None or config is None or not fields & config.keys():
        return config_json
    for name in sorted(fields & config.keys()):
        value = config[name]
        if isinstance(value, str) and not is_sealed(value):
            config[name] = box.seal(value, label=f"{transport}.{name}")
    return msgspec.json.encode(config).decode()


def open_config(
    config_json: str, fields: frozenset[str], box: SecretBox | None, *, transport: str
) -> str:
    """A stored config with its sealed fields opened, for the transport to read."""
    config = _fields(config_json)
    if config is None:
        return config_json
    sealed = [name for name in sorted(fields & config.keys()) if is_sealed(config[name])]
    if not sealed:
        return config_json
    if box is None:
        raise SealingError(
            f"{', '.join(sealed)} sealed with KURIR_SECRET_KEY, which is not set in this process"
        )
    for name in sealed:
        config[name] = box.open(str(config[name]), label=f"{transport}.{name}")
    return msgspec.json.encode(config).decode()
