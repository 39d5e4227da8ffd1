"""Signing outbound webhooks as Standard Webhooks (https://www.standardwebhooks.com/) does.

A receiver checks a delivery with any Standard Webhooks library: HMAC-SHA256,
keyed with the endpoint's secret, of ``{webhook-id}.{webhook-timestamp}.{body}``,
sent base64-encoded as ``v1,<signature>`` in ``webhook-signature``. The
timestamp is the attempt's, not the event's: receivers refuse one more than
five minutes from their clock, which is what stops a recorded delivery from
being replayed. The id is the delivery's and stays the same on every retry,
so a receiver can drop a delivery it has already processed.

Secrets are strings of the form ``whsec_<base64>``, the spec's own, so a
receiver can paste them into its library as they are. A rotated endpoint has
two for a while, and every delivery carries a signature for each: receivers
that know either one accept it, whichever they have configured yet.

Secrets appear in no message, log or repr: errors about a secret say what is
wrong with it, never what it is.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from secrets import token_bytes

SECRET_PREFIX = "whsec_"  # noqa: S105  # the spec's prefix, not a secret
#: Random bytes in a new secret: the spec's minimum of 24, as Svix (which the spec
#: grew from) uses. A multiple of 3, so the base64 text has no padding, which some
#: receivers' libraries are stricter about than others.
SECRET_BYTES = 24
#: The spec's bounds on a secret's decoded length (192 to 512 bits).
_MIN_SECRET_BYTES, _MAX_SECRET_BYTES = 24, 64
#: How long an endpoint's previous secret still signs after a rotation.
ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000

# Ids go into the signed content, delimited by full stops, and into a header:
# the spec forbids "." in them, and a header value must not break its line.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_\-]{1,200}")


def new_secret() -> str:
    """A fresh endpoint secret, ``whsec_`` and the base64 of `SECRET_BYTES` random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key in ``secret``; ValueError (not naming the secret) if it is not one.

    Standard base64, with or without its padding, after the ``whsec_`` prefix,
    decoding to 24 to 64 bytes: what Standard Webhooks libraries accept.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret must start with {SECRET_PREFIX!r}")
    text = secret.removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret must be base64 after its prefix") from None
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret must hold {_MIN_SECRET_BYTES} to {_MAX_SECRET_BYTES} bytes,"
            f" not {len(key)}"
        )
    return key


def signing_secrets(
    current: str, previous: str | None, *, rotated_at: int | None, now: int
) -> tuple[str, ...]:
    """The secrets a delivery at ``now`` is signed with (times in ms).

    The previous secret keeps signing for `ROTATION_OVERLAP_MS` after the
    rotation, so a receiver has a day to switch without refusing anything.
    """
    if previous is None or rotated_at is None or now >= rotated_at + ROTATION_OVERLAP_MS:
        return (current,)
    return (current, previous)


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``, signed with each of ``secrets``.

    ``msg_id`` is the delivery's id, the same on every retry; ``timestamp``
    is the attempt's time in Unix seconds. ``body`` is signed as it is sent:
    byte for byte, so the caller must send exactly these bytes.
    """
    if not secrets:
        raise ValueError("a webhook needs at least one secret to be signed with")
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise ValueError("a webhook id must be 1 to 200 letters, digits, '_' or '-'")
    if timestamp < 0:
        raise ValueError("a webhook timestamp must be Unix seconds, not negative")
    content = f"{msg_id}.{timestamp}.".encode("ascii") + body
    signatures = " ".join(
        "v1," + base64.b64encode(hmac.digest(secret_key(secret), content, hashlib.sha256)).decode()
        for secret in secrets
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
