"""Phone number normalisation: whatever a client typed, to the digits WhatsApp uses.

WhatsApp addresses a recipient by country code and national number, digits only
(``628111111111``). Indonesian clients write the same number as ``08111111111``,
``+62 811-1111-111``, ``62 811 1111 111`` or ``0062 811 1111 111``; all of these
must reach one person, and so must Kurir's own ``to`` when a client sends it back.

Digits without ``+`` can be read two ways, with a country code or as a national
number, and reading them the wrong way reaches someone else. The rule below
picks the reading a person writing that way meant, and refuses when nothing in
the writing tells the two apart.
"""

import re
from functools import lru_cache
from typing import NamedTuple

import phonenumbers

from kurir.domain.errors import ValidationError

_PUNCTUATION = str.maketrans("", "", " -().\t/")
_MAX_CLEANED = 19


def normalise_phone(raw: str, default_region: str, *, field: str = "phone") -> str:
    """Return ``raw`` as country code + national number, digits only.

    With ``+`` or ``00`` the number is international. Digits alone are read
    both ways: with a country code (``62811…``, ``16502530000``) and as a
    national number of ``default_region`` (``0811…``, or ``811…`` without the
    trunk prefix). If only one reading is a valid number, it is that one. If
    both are, and they differ, the writing decides:

    * a leading trunk prefix (``0`` in ID) means national;
    * digits written exactly as the region writes the national number, with no
      trunk prefix (the US's ``2015558198``, also Egypt's +20 15558198), are
      refused as ambiguous: a guess could reach the wrong person;
    * otherwise it is a national number missing its trunk prefix, the less
      usual way to write it, and the country code reading wins. That is what
      makes Kurir's own ``to`` (``62811111111``) read back as itself.
    """
    if not raw.strip():
        raise ValidationError(f"{field} is required")
    stripped = raw.strip()
    cleaned = stripped.translate(_PUNCTUATION)
    # Only punctuation ("---", "()") is not a number, and neither is a negative one.
    # Nor is one longer than "00" and 17 digits, refused before the cache would keep it.
    usable = cleaned and not stripped.startswith("-") and len(cleaned) <= _MAX_CLEANED
    reading = _read(cleaned, default_region.upper()) if usable else None
    if isinstance(reading, _Ambiguous):
        raise ValidationError(
            f"{field} is ambiguous: {stripped[:32]!r} is {reading.national} as a national "
            f"number and {reading.international} with a country code; write it with +"
        )
    if reading is None:
        raise ValidationError(f"{field} is not a valid phone number: {stripped[:32]!r}")
    return reading


class _Ambiguous(NamedTuple):
    national: str
    international: str


# Bulk senders address the same recipients again and again; parsing with full
# metadata costs ~20 µs a reading, the cache makes repeats free.
@lru_cache(maxsize=65536)
def _read(cleaned: str, region: str) -> str | _Ambiguous | None:
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return _usual_reading(cleaned, region) or _full_reading(cleaned, region)


def _usual_reading(cleaned: str, region: str) -> str | None:
    """The full rule's reading of a valid number written one of the usual ways, or None.

    A broadcast's hundred thousand numbers are nearly all written nationally
    with the trunk prefix (``0812…``), or with the country code, with or
    without ``+`` (``+62812…``, ``62812…``). Then the reading is the country
    code and the digits after the prefix, if that number is valid: what
    phonenumbers' parser (two thirds of a reading's time) would find, when no
    part of the writing can be read otherwise (an international call prefix,
    a national prefix after the country code, a leading zero kept in the
    number, a prefix rule with a pattern). Digits that start with the
    region's own country code are that reading only if they are not also a
    valid national number. Everything else, and every number not valid so
    read, is left to the full rule; tests/unit/test_phone_fast_path.py checks
    that the two agree over many generated numbers.
    """
    digits = cleaned.removeprefix("+")
    if not digits.isdigit() or len(digits) > 17:
        return None
    home = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if home is None:
        return None
    trunk = home.national_prefix or ""
    if cleaned.startswith("+"):
        code, rest = _country_code(digits)
    elif trunk and digits.startswith(trunk):
        simple = (
            home.national_prefix_for_parsing == trunk and not home.national_prefix_transform_rule
        )
        if not simple or _matches(home.international_prefix, digits):
            return None
        code, rest = home.country_code or 0, digits[len(trunk) :]
    else:
        code, rest = _country_code(digits)
        national = phonenumbers.PhoneNumber(country_code=code, national_number=int(digits))
        if (
            code != home.country_code
            or _matches(home.international_prefix, digits)
            or _matches(home.national_prefix_for_parsing, digits)
            or phonenumbers.is_valid_number(national)
        ):
            return None
    if code == 0 or not rest or rest.startswith("0"):
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(
        phonenumbers.region_code_for_country_code(code)
    )
    if metadata is None or _matches(metadata.national_prefix_for_parsing, rest):
        return None
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(rest))
    return f"{code}{rest}" if phonenumbers.is_valid_number(number) else None


def _country_code(digits: str) -> tuple[int, str]:
    """The country code digits start with, as phonenumbers finds it, and the rest (0: none)."""
    if digits.startswith("0"):
        return 0, digits
    for length in (1, 2, 3):
        if int(digits[:length]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(digits[:length]), digits[length:]
    return 0, digits


def _matches(pattern: str | None, digits: str) -> bool:
    """Whether a pattern of the metadata matches at the start of ``digits``."""
    return pattern is not None and pattern != "" and re.match(pattern, digits) is not None


def _full_reading(cleaned: str, region: str) -> str | _Ambiguous | None:
    """The rule of `normalise_phone`, after ``00`` was written as ``+``."""
    digits = cleaned.removeprefix("+")
    if not digits.isdigit() or len(digits) > 17:
        return None
    if cleaned.startswith("+"):
        number = _parse(cleaned, None)
        return _digits(number) if number is not None else None
    national = _parse(digits, region)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = metadata.national_prefix if metadata is not None else None
    if national is not None and trunk and digits.startswith(trunk):
        return _digits(national)
    international = _parse("+" + digits, None)
    if international is None or national is None:
        number = international if international is not None else national
        return _digits(number) if number is not None else None
    at_home, abroad = _digits(national), _digits(international)
    if at_home == abroad:
        return abroad
    if _written_nationally(national) == digits:
        return _Ambiguous(national=at_home, international=abroad)
    return abroad


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _digits(number: phonenumbers.PhoneNumber) -> str:
    # The national significant number keeps a leading zero that belongs to the
    # number (Italy's 06 …); ``national_number``, an int, drops it.
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def _written_nationally(number: phonenumbers.PhoneNumber) -> str:
    """The digits of ``number`` as its region writes it nationally (``0811…`` in ID)."""
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(char for char in national if char.isdigit())


def is_known_region(region: str) -> bool:
    """True for a region code phonenumbers has metadata for (``ID``, ``MY``, …)."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS
