"""Device ids: the names clients use for a device, in request bodies and in URL paths.

An id goes into paths such as ``/sandbox/{device}/reply`` as it is, so it is
limited to what needs no escaping there: ASCII letters, digits, ``_`` and
``-``, 1 to 64 characters (the width of its column). The rule is checked where
a device is made; an id presented to the API that breaks it names no device,
and is answered without asking the database.
"""

import re

import msgspec

from kurir.domain.errors import ValidationError

MAX_DEVICE_ID = 64
_DEVICE_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_DEVICE_ID}}}")
#: The rule as errors state it.
DEVICE_ID_RULE = f"1 to {MAX_DEVICE_ID} characters of A-Z, a-z, 0-9, _ and -"


def is_device_id(value: str) -> bool:
    """True when ``value`` may be a device's id."""
    return _DEVICE_ID.fullmatch(value) is not None


def check_device_id(value: str, *, field: str = "device id") -> str:
    """``value`` if it may be a device's id; else ValidationError naming ``field``."""
    if not is_device_id(value):
        raise ValidationError(f"{field} must be {DEVICE_ID_RULE}, got {value[:MAX_DEVICE_ID]!r}")
    return value


class DeviceProfile(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the provider says of a device's number, checked when the device is added.

    A transport whose provider describes its numbers (WhatsApp's Cloud API)
    fills what it knows; the others leave the device without one.
    """

    #: The number as WhatsApp shows it to recipients (``+62 812-2222-222``).
    display_phone: str | None = None
    #: The business name WhatsApp verified for the number.
    verified_name: str | None = None
    #: WhatsApp's rating of the number's recent messages: GREEN, YELLOW, RED.
    quality_rating: str | None = None
