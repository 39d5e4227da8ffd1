"""Webhook endpoints: the rules of what an account may register, and how they are named.

Pure rules, no I/O: the API checks a request's shape with these before it
asks the store, which checks what needs the database (that the devices are
the account's, the cap on endpoints).
"""

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from kurir.domain.devices import MAX_DEVICE_ID, check_device_id
from kurir.domain.errors import ValidationError
from kurir.domain.events import EVENTS

#: Endpoints one account may have: each one is a fan-out of every event it
#: wants, so the cap bounds what one event costs to store.
MAX_ENDPOINTS = 20
#: The longest URL accepted; far beyond any real receiver's, well within a request line.
MAX_URL_LENGTH = 2048
#: Devices one endpoint may name; an account with more listens to all of them.
MAX_ENDPOINT_DEVICES = 100
#: Characters of a secret after its prefix shown to tell secrets apart (24 of its 192 bits).
SECRET_HINT_CHARACTERS = 4

_ENDPOINT_ID = re.compile(r"wh_[A-Za-z0-9_-]{1,29}")
_DELIVERY_ID = re.compile(r"msg_[A-Za-z0-9_-]{1,28}")
#: Unix seconds up to the year 9999, the last a stored time is shown in.
_MAX_UNIX_SECONDS = 253_402_300_799


def is_endpoint_id(value: str) -> bool:
    """True when ``value`` has the shape of an endpoint's id (`new_endpoint_id`)."""
    return _ENDPOINT_ID.fullmatch(value) is not None


def is_delivery_id(value: str) -> bool:
    """True when ``value`` has the shape of a delivery's id (`new_delivery_id`)."""
    return _DELIVERY_ID.fullmatch(value) is not None


def check_events(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if it is a non-empty list of known events without repeats."""
    known = ", ".join(EVENTS)
    if not names:
        raise ValidationError(f"events must name at least one event: {known}")
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name not in EVENTS:
            raise ValidationError(f"events[{index}]: {name[:40]!r} is not an event; use {known}")
        if name in seen:
            raise ValidationError(f"events[{index}] repeats {name!r}")
        seen.add(name)
    return tuple(names)


def check_devices(public_ids: Sequence[str] | None) -> tuple[str, ...] | None:
    """``public_ids`` if it may name devices (None: all of the account's).

    Only their form is checked here; the store checks that each is the account's.
    """
    if public_ids is None:
        return None
    if not public_ids:
        raise ValidationError("devices must name at least one device, or be null for all devices")
    if len(public_ids) > MAX_ENDPOINT_DEVICES:
        raise ValidationError(
            f"devices names {len(public_ids)} devices; at most {MAX_ENDPOINT_DEVICES} are allowed"
            " (leave it out for all devices)"
        )
    seen: set[str] = set()
    for index, public_id in enumerate(public_ids):
        check_device_id(public_id, field=f"devices[{index}]")
        if public_id in seen:
            raise ValidationError(f"devices[{index}] repeats {public_id!r}")
        seen.add(public_id)
    return tuple(public_ids)


def unknown_device(index: int, public_id: str) -> ValidationError:
    """A named device that is not the account's, worded as a missing one is."""
    return ValidationError(f"devices[{index}]: device {public_id[:MAX_DEVICE_ID]!r} not found")


def secret_hint(secret: str) -> str:
    """The part of a secret that may be shown again, to tell which one a receiver has."""
    prefix, _, key = secret.partition("_")  # whsec_<base64>
    return f"{prefix}_{key[:SECRET_HINT_CHARACTERS]}…"


def parse_since(raw: str | int, *, timezone: tzinfo, field: str = "since") -> int:
    """A time given as Unix seconds or ISO 8601, in ms; ISO without an offset is in ``timezone``.

    ``since`` of a redelivery: clients have either at hand, the event's
    ``created`` (Unix seconds) or a time a person typed.
    """
    text = str(raw).strip()
    if text.isascii() and text.isdigit():
        seconds = int(text) if len(text) <= len(str(_MAX_UNIX_SECONDS)) else None
        if seconds is None or seconds > _MAX_UNIX_SECONDS:
            raise ValidationError(f"{field} is too far ahead: at most the year 9999")
        return seconds * 1000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{field} must be Unix seconds or an ISO 8601 time (for example "
            f"2026-05-04T09:30:00+07:00), got {text[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    return max(0, int(moment.timestamp() * 1000))
