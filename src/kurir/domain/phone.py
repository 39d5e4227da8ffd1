"""Phone number normalisation: whatever a client typed, to the digits WhatsApp uses.

WhatsApp addresses a recipient by country code and national number, digits only
(``628111111111``). Indonesian clients write the same number as ``08111111111``,
``+62 811-1111-111`` or ``62 811 1111 111``; all of these must reach one person.
"""

from functools import lru_cache

import phonenumbers

from kurir.domain.errors import ValidationError

_PUNCTUATION = str.maketrans("", "", " -().\t/")
_MAX_CLEANED = 19


def normalise_phone(raw: str, default_region: str, *, field: str = "phone") -> str:
    """Return ``raw`` as country code + national number, digits only.

    A number without ``+`` is read first as national in ``default_region``
    (``0811…``) and, as phonenumbers does, also recognises a leading country
    code (``62811…``). ``00`` is taken as the international prefix.
    """
    if not raw.strip():
        raise ValidationError(f"{field} is required")
    stripped = raw.strip()
    cleaned = stripped.translate(_PUNCTUATION)
    # Only punctuation ("---", "()") is not a number, and neither is a negative one.
    # Nor is one longer than "00" and 17 digits, refused before the cache would keep it.
    usable = cleaned and not stripped.startswith("-") and len(cleaned) <= _MAX_CLEANED
    normalised = _normalise_cleaned(cleaned, default_region.upper()) if usable else None
    if normalised is None:
        raise ValidationError(f"{field} is not a valid phone number: {raw.strip()[:32]!r}")
    return normalised


# Bulk senders address the same recipients again and again; parsing with full
# metadata costs ~20 µs, the cache makes repeats free.
@lru_cache(maxsize=65536)
def _normalise_cleaned(cleaned: str, region: str) -> str | None:
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    body = cleaned[1:] if cleaned.startswith("+") else cleaned
    if not body.isdigit() or len(body) > 17:
        return None
    try:
        number = phonenumbers.parse(cleaned, None if cleaned.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return f"{number.country_code}{number.national_number}"


def is_known_region(region: str) -> bool:
    """True for a region code phonenumbers has metadata for (``ID``, ``MY``, …)."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS
