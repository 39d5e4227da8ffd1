"""The fast reading of the usual writings agrees with the full phone rule.

`normalise_phone` reads ``0812…``, ``+62812…`` and ``62812…`` without
phonenumbers' parser when it can (a broadcast has a hundred thousand of
them). Whenever the fast reading gives an answer, it must be the full rule's
answer: checked here over numbers generated around each region's real
numbers, in every writing, read in regions of their own and of others.
"""

import phonenumbers
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from kurir.domain.phone import _full_reading, _usual_reading, normalise_phone

#: Regions with simple and with unusual rules: trunk prefixes, none (IT, SG),
#: a pattern (BR), a shared code (US, GB), long and short numbers.
REGIONS = ["ID", "MY", "SG", "IN", "US", "CA", "GB", "IT", "BR", "DE", "AU", "EG", "NG", "RU", "AR"]
KINDS = [
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
]
WRITINGS = [
    "+{cc}{nsn}",
    "{cc}{nsn}",
    "00{cc}{nsn}",
    "{trunk}{nsn}",
    "{nsn}",
    "0{nsn}",
    "0{cc}{nsn}",
]


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A number near a real one of some region, written some way, and the region read in."""
    home = draw(st.sampled_from(REGIONS))
    source = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(source, draw(st.sampled_from(KINDS)))
    if example is None:
        example = phonenumbers.example_number(source)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    # Mostly its length (so often valid), now and then a digit more or less.
    kept = draw(st.integers(0, len(nsn)))
    size = max(0, len(nsn) - kept + draw(st.sampled_from([0, 0, 0, -1, 1])))
    nsn = nsn[:kept] + draw(st.text("0123456789", min_size=size, max_size=size))
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(source)
    trunk = (metadata.national_prefix if metadata is not None else None) or ""
    writing = draw(st.sampled_from(WRITINGS))
    return writing.format(cc=example.country_code, nsn=nsn, trunk=trunk), home


def _as_read(text: str) -> str:
    """``text`` as `_read` hands it on: ``00`` written as ``+``."""
    return "+" + text[2:] if text.startswith("00") else text


@settings(max_examples=4000, deadline=None)
@given(written_numbers())
def test_the_fast_reading_is_the_full_rules_whenever_it_answers(case: tuple[str, str]) -> None:
    text, region = case
    cleaned = _as_read(text)
    fast = _usual_reading(cleaned, region)
    event("fast" if fast is not None else "full rule")
    if fast is not None:
        assert fast == _full_reading(cleaned, region)


@pytest.mark.parametrize(
    ("written", "region", "read"),
    [
        ("081234567890", "ID", "6281234567890"),
        ("+6281234567890", "ID", "6281234567890"),
        ("6281234567890", "ID", "6281234567890"),
        ("0062 812-3456-7890", "ID", "6281234567890"),
        ("012-345 6789", "MY", "60123456789"),
        ("+44 7400 123456", "ID", "447400123456"),
    ],
)
def test_the_usual_writings_take_the_fast_reading(written: str, region: str, read: str) -> None:
    cleaned = _as_read(written.replace(" ", "").replace("-", ""))
    assert _usual_reading(cleaned, region) == read
    assert normalise_phone(written, region) == read


def test_nearly_every_indonesian_mobile_number_takes_the_fast_reading() -> None:
    numbers = [f"0812{n:08d}" for n in range(0, 100_000_000, 997_331)]
    fast = [n for n in numbers if _usual_reading(n, "ID") is not None]
    assert len(fast) == len(numbers)
    assert all(_usual_reading(n, "ID") == _full_reading(n, "ID") for n in numbers)


@pytest.mark.parametrize(
    ("written", "region"),
    [
        # Ambiguous in the US: a national number there, and Egypt's with its code.
        ("2015558198", "US"),
        # An international call prefix, and a national prefix after the country code.
        ("0017001234567", "ID"),
        ("+62081234567890", "ID"),
        # Brazil's trunk prefix is a pattern with a carrier code.
        ("0 21 2345 6789", "BR"),
    ],
)
def test_writings_that_can_be_read_otherwise_are_left_to_the_full_rule(
    written: str, region: str
) -> None:
    cleaned = _as_read(written.replace(" ", ""))
    assert _usual_reading(cleaned, region) is None
