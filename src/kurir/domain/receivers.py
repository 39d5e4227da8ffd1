"""A bulk request's recipients, checked all at once: numbers, repeats, and each one's text.

A broadcast (or a contact list) of thousands is refused or accepted whole,
so every fault is found before answering, each named by the item's index and
number: the sender fixes them all in one go, or asks to skip them.
"""

import random
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.domain.spintax import Template, parse_template
from kurir.domain.text import check_text


class Receiver(msgspec.Struct, frozen=True):
    """An item as the request gave it."""

    index: int
    phone: str
    #: Its own text (a template), if it has one.
    message: str | None = None
    #: Contact fields it gave itself (``name``, ``opt1``…), which win over the contact's.
    fields: dict[str, str] | None = None


class Recipient(msgspec.Struct, frozen=True):
    """A receiver whose number is valid: ``phone`` is normalised, ``written`` as given."""

    index: int
    phone: str
    message: str | None
    fields: dict[str, str] | None
    written: str


class Invalid(msgspec.Struct, frozen=True):
    index: int
    phone: str
    reason: str


class ReadPhones(msgspec.Struct, frozen=True):
    recipients: list[Recipient]
    invalid: list[Invalid]
    #: Receivers whose number an earlier one had.
    duplicates: int


def read_phone(raw: str, region: str, *, international_only: bool, field: str = "phone") -> str:
    """A number as `normalise_phone` reads it; with ``international_only``, as international.

    Alat WA's ``generate_receiver: no`` means numbers are written with their
    country code, with or without ``+``: then a national number is an error
    rather than a guess.
    """
    if not international_only:
        return normalise_phone(raw, region, field=field)
    written = raw.strip()
    if not written.startswith(("+", "00")):
        written = "+" + written
    try:
        return normalise_phone(written, region, field=field)
    except ValidationError:
        raise ValidationError(
            f"{field} is not an international number: {raw.strip()[:32]!r} "
            "(numbers must start with their country code unless generate_receiver is yes)"
        ) from None


def read_phones(
    receivers: Iterable[Receiver], *, region: str, international_only: bool
) -> ReadPhones:
    """Every receiver's number read; the invalid listed, repeats dropped (the first kept)."""
    recipients: list[Recipient] = []
    invalid: list[Invalid] = []
    seen: set[str] = set()
    duplicates = 0
    for receiver in receivers:
        try:
            phone = read_phone(receiver.phone, region, international_only=international_only)
        except ValidationError as error:
            invalid.append(Invalid(receiver.index, receiver.phone, error.message))
            continue
        if phone in seen:
            duplicates += 1
            continue
        seen.add(phone)
        recipients.append(
            Recipient(receiver.index, phone, receiver.message, receiver.fields, receiver.phone)
        )
    return ReadPhones(recipients, invalid, duplicates)


class Rendered(msgspec.Struct, frozen=True):
    #: ``(phone, text)`` of each recipient, in order; text is None where none is needed.
    texts: list[tuple[str, str | None]]
    invalid: list[Invalid]


def render_texts(
    recipients: Sequence[Recipient],
    *,
    default: Template | None,
    field: str,
    max_length: int,
    required: bool,
    contact_fields: Mapping[str, Mapping[str, str]],
    rng: random.Random,
) -> Rendered:
    """Each recipient's text: its own template or ``default``, spun and filled.

    A template of its own that cannot be read, or a text that breaks the
    text rules once rendered, makes the recipient invalid, named by the
    field and the fault's position. Templates are parsed once each.
    """
    parsed: dict[str, Template | ValidationError] = {}
    texts: list[tuple[str, str | None]] = []
    invalid: list[Invalid] = []
    for recipient in recipients:
        template = default
        if recipient.message is not None and recipient.message.strip():
            found = parsed.get(recipient.message)
            if found is None:
                try:
                    found = parse_template(recipient.message)
                except ValidationError as error:
                    found = error
                parsed[recipient.message] = found
            if isinstance(found, ValidationError):
                reason = f"{field}: {found.message}"
                invalid.append(Invalid(recipient.index, recipient.written, reason))
                continue
            template = found
        if template is None:
            if required:
                invalid.append(Invalid(recipient.index, recipient.written, f"{field} is required"))
            else:
                texts.append((recipient.phone, None))
            continue
        values: Mapping[str, str] = contact_fields.get(recipient.phone, {})
        if recipient.fields:
            values = {**values, **recipient.fields}
        try:
            text = check_text(field, template.render(rng, values), max_length, multiline=True)
        except ValidationError as error:
            invalid.append(Invalid(recipient.index, recipient.written, error.message))
            continue
        texts.append((recipient.phone, text))
    return Rendered(texts, invalid)
