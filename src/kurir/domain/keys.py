"""API keys: how they are made, stored and checked."""

import hashlib
import hmac
import secrets

from kurir.domain.errors import ValidationError

KEY_PREFIX = "kr_"


def new_api_key() -> str:
    """A fresh key: 32 random bytes, URL-safe, with a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of a key.

    Keys are high-entropy random strings, so a plain SHA-256 is enough: there
    is nothing to brute-force the way a password would be.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def hashes_match(stored: str, presented: str) -> bool:
    """Compare two key hashes in constant time."""
    return hmac.compare_digest(stored.encode("ascii"), presented.encode("ascii"))


def key_hint(key: str) -> str:
    """The part of a key that may be shown again to tell keys apart."""
    return key[: len(KEY_PREFIX) + 6] + "…"


def parse_authorization(header: str | None) -> str | None:
    """The key in an Authorization header: bare (Alat WA's style) or after Bearer."""
    if header is None:
        return None
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


#: The width of a label's column: checked before storing, because SQLite
#: would store a longer value silently and PostgreSQL would fail loudly.
MAX_KEY_LABEL = 100


def check_key_label(label: str) -> str:
    """``label`` trimmed, or ValidationError if it is longer than its column."""
    label = label.strip()
    if len(label) > MAX_KEY_LABEL:
        raise ValidationError(f"a key label is at most {MAX_KEY_LABEL} characters")
    return label
