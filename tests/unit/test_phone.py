"""Phone numbers: every way a client writes one number reaches the same recipient."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType

from kurir.domain.errors import ValidationError
from kurir.domain.phone import is_known_region, normalise_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # The three spellings of one Indonesian mobile number.
        ("08111111111", "ID", "628111111111"),
        ("+62 811-1111-111", "ID", "628111111111"),
        ("62 811 1111 111", "ID", "628111111111"),
        # 00 is the international prefix, as dialled from Indonesia.
        ("0062 811 1111 111", "ID", "628111111111"),
        ("00628111111111", "ID", "628111111111"),
        # Punctuation people type, and surrounding whitespace.
        ("(0811) 1111-111", "ID", "628111111111"),
        ("0811.1111.111", "ID", "628111111111"),
        ("  628111111111\t", "ID", "628111111111"),
        # Without the trunk 0 it is still a national number.
        ("8111111111", "ID", "628111111111"),
        # A landline (Jakarta) in both notations.
        ("021 5555 1234", "ID", "622155551234"),
        ("+62 21 5555 1234", "ID", "622155551234"),
        # With +, the default region does not matter.
        ("+1 650 253 0000", "ID", "16502530000"),
        ("+60 12-345 6789", "ID", "60123456789"),
        # Country code without +, as Kurir's own `to` is written: the same number
        # again, also where the digits would make another valid national number.
        ("62811111111", "ID", "62811111111"),
        ("62812345678", "ID", "62812345678"),
        ("62361123456", "ID", "62361123456"),
        ("16502530000", "ID", "16502530000"),
        ("60123456789", "ID", "60123456789"),
        ("4420 7946 0958", "ID", "442079460958"),
        # +62 21 555512 is too short for Jakarta, so these are national digits
        # without the trunk 0: (0622) 155-5512, Pematang Siantar.
        ("6221555512", "ID", "626221555512"),
        # An Indonesian mobile missing both its 0 and its 62 is also a valid
        # Japanese number with its country code: the country code wins.
        ("81234567890", "ID", "81234567890"),
        # Where the trunk prefix is not 0 it still marks a national number.
        ("8 (812) 123-45-67", "RU", "78121234567"),
        ("1 (650) 253-0000", "US", "16502530000"),
        # A zero that belongs to the number (Italy) is kept.
        ("+39 06 1234 5678", "ID", "390612345678"),
        # Another default region; its code is case-insensitive.
        ("012-345 6789", "MY", "60123456789"),
        ("012-345 6789", "my", "60123456789"),
    ],
)
def test_normalises_to_country_code_and_national_number(
    raw: str, region: str, expected: str
) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "phone is required"),
        ("   ", "phone is required"),
        ("abc", "phone is not a valid phone number: 'abc'"),
        ("0811", "phone is not a valid phone number: '0811'"),
        ("0000", "phone is not a valid phone number: '0000'"),
        ("+", "phone is not a valid phone number: '+'"),
        ("++628111111111", "phone is not a valid phone number: '++628111111111'"),
        ("0811-1111-111x", "phone is not a valid phone number: '0811-1111-111x'"),
        # Longer than any real number: refused before phonenumbers sees it.
        ("62811111111111111111", "phone is not a valid phone number: '62811111111111111111'"),
        # A US number a digit short is neither American nor Indonesian.
        ("1650253000", "phone is not a valid phone number: '1650253000'"),
    ],
)
def test_refuses_what_is_not_a_number(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalise_phone(raw, "ID")
    assert caught.value.message == message


def test_error_names_the_field_it_came_from() -> None:
    with pytest.raises(ValidationError, match=r"^KURIR_BOOTSTRAP_DEVICE_PHONE is required$"):
        normalise_phone(" ", "ID", field="KURIR_BOOTSTRAP_DEVICE_PHONE")


def test_error_quotes_at_most_32_characters_of_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        normalise_phone("x" * 100, "ID")
    assert caught.value.message == f"phone is not a valid phone number: {'x' * 32!r}"


@pytest.mark.parametrize(
    ("region", "known"), [("ID", True), ("id", True), ("MY", True), ("XX", False), ("", False)]
)
def test_known_regions(region: str, known: bool) -> None:
    assert is_known_region(region) is known


@pytest.mark.parametrize(
    ("raw", "region", "national", "international"),
    [
        # The US writes numbers without its trunk 1; these digits are also Egypt's +20 15558198.
        ("(201) 555-8198", "US", "12015558198", "2015558198"),
        ("2015558198", "US", "12015558198", "2015558198"),
        # An Italian mobile written at home, and France's +33 1 01 23 45 14.
        ("331 0123 4514", "IT", "3933101234514", "33101234514"),
    ],
)
def test_refuses_digits_that_are_two_numbers_as_they_are_written(
    raw: str, region: str, national: str, international: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        normalise_phone(raw, region)
    assert caught.value.message == (
        f"phone is ambiguous: {raw!r} is {national} as a national number and "
        f"{international} with a country code; write it with +"
    )
    # With + (or the trunk prefix) nothing is left to guess.
    assert normalise_phone(f"+{national}", region) == national
    assert normalise_phone(f"+{international}", region) == international


# Property: every usual notation of one number gives its digits, over numbers of
# every region and type that phonenumbers' metadata has an example for.


def _examples() -> list[PhoneNumber]:
    kinds = [kind for kind in PhoneNumberType.values() if kind != PhoneNumberType.UNKNOWN]
    found = [
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in kinds
    ]
    # Numbers of no region: international freephone (+800), satellite (+881), …
    found += [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    return [number for number in found if number is not None]


EXAMPLES = _examples()
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
# Regions that write national numbers with the trunk prefix 0, which no country
# code starts with: there no notation of any number is ambiguous.
UNAMBIGUOUS_REGIONS = ["ID", "MY", "GB"]
PROPERTY = settings(max_examples=300, deadline=None)  # a loaded machine is slow, not wrong


def _digits(number: PhoneNumber) -> str:
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def _region(number: PhoneNumber) -> str | None:
    """The number's region; None for numbers of no region (+800, +881, …)."""
    region = phonenumbers.region_code_for_number(number)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


_EXAMPLES_BY_REGION = {
    region: [number for number in EXAMPLES if _region(number) == region]
    for region in UNAMBIGUOUS_REGIONS
}


@st.composite
def valid_numbers(draw: st.DrawFn, region: str | None = None) -> PhoneNumber:
    """An example number with its last digits changed, where that is still a valid number."""
    pool = EXAMPLES if region is None else _EXAMPLES_BY_REGION[region]
    example = draw(st.sampled_from(pool))
    significant = phonenumbers.national_significant_number(example)
    changed = draw(st.integers(min_value=0, max_value=min(6, len(significant) - 1)))
    tail = draw(st.text("0123456789", min_size=changed, max_size=changed))
    number = phonenumbers.parse(
        f"+{example.country_code}{significant[: len(significant) - changed]}{tail}"
    )
    return number if phonenumbers.is_valid_number(number) else example


@st.composite
def written(draw: st.DrawFn, prefix: str, digits: str) -> str:
    """``prefix`` and ``digits`` as people type them: grouped, punctuated, padded."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=4)))
    bounds = zip([0, *cuts], [*cuts, len(digits)], strict=True)
    groups = [digits[start:end] for start, end in bounds]
    if draw(st.booleans()):
        groups[0] = f"({groups[0]})"
    separators = draw(
        st.lists(
            st.sampled_from(["", " ", "-", ".", "/", " - "]),
            min_size=len(groups) - 1,
            max_size=len(groups) - 1,
        )
    )
    joined = zip(separators, groups[1:], strict=True)
    body = groups[0] + "".join(separator + group for separator, group in joined)
    pad = draw(st.sampled_from(["", " ", "\t"]))
    return f"{pad}{prefix}{body}{pad}"


def _international_notations(data: st.DataObject, number: PhoneNumber) -> list[str]:
    digits = _digits(number)
    return [
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        data.draw(written("+", digits)),
        data.draw(written("00", digits)),
    ]


def _national_notations(data: st.DataObject, number: PhoneNumber) -> list[str]:
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return [national, data.draw(written("", _only_digits(national)))]


@PROPERTY
@given(st.data(), st.sampled_from(REGIONS))
def test_with_plus_or_00_any_number_is_itself_in_any_region(
    data: st.DataObject, region: str
) -> None:
    number = data.draw(valid_numbers())
    for notation in _international_notations(data, number):
        assert normalise_phone(notation, region) == _digits(number), notation


@PROPERTY
@given(st.data(), st.sampled_from(UNAMBIGUOUS_REGIONS))
def test_every_usual_notation_gives_the_same_digits_and_they_read_back_as_themselves(
    data: st.DataObject, region: str
) -> None:
    # Half the numbers are the region's own, which have a national notation there too.
    number = data.draw(st.one_of(valid_numbers(region), valid_numbers()))
    digits = _digits(number)
    notations = [*_international_notations(data, number), data.draw(written("", digits))]
    if _region(number) == region:
        notations += _national_notations(data, number)
    for notation in notations:
        normalised = normalise_phone(notation, region)
        assert normalised == digits, notation
        assert normalise_phone(normalised, region) == normalised, notation


@PROPERTY
@given(valid_numbers(), st.data())
def test_a_national_notation_is_the_number_or_refused_as_ambiguous(
    number: PhoneNumber, data: st.DataObject
) -> None:
    region = _region(number)
    if region is None:  # a number of no region has no national notation
        return
    trunk = _trunk(region)
    for notation in _national_notations(data, number):
        digits = _only_digits(notation)
        abroad = _valid(f"+{digits}", None)
        # Refused exactly where the region writes the number without a trunk
        # prefix and the same digits are another valid number with a country code.
        with_trunk = trunk is not None and digits.startswith(trunk)
        if with_trunk or abroad is None or _digits(abroad) == _digits(number):
            assert normalise_phone(notation, region) == _digits(number), notation
        else:
            with pytest.raises(ValidationError) as caught:
                normalise_phone(notation, region)
            assert caught.value.message == (
                f"phone is ambiguous: {notation.strip()[:32]!r} is {_digits(number)} as a "
                f"national number and {_digits(abroad)} with a country code; write it with +"
            )


@PROPERTY
@given(valid_numbers(), st.sampled_from(REGIONS))
def test_digits_with_a_country_code_read_back_as_themselves_unless_national_there(
    number: PhoneNumber, region: str
) -> None:
    """Kurir's own ``to``, sent back in under any default region.

    The exceptions are the digits that are also, as written, a national number
    of the default region: with its trunk prefix (RU's 8) they are that number;
    without one they are ambiguous.
    """
    digits = _digits(number)
    home = _valid(digits, region)
    trunk = _trunk(region)
    if home is None or _digits(home) == digits:
        assert normalise_phone(digits, region) == digits
    elif trunk and digits.startswith(trunk):
        assert normalise_phone(digits, region) == _digits(home)
    elif _written_nationally(home) == digits:
        with pytest.raises(ValidationError, match=r"^phone is ambiguous: "):
            normalise_phone(digits, region)
    else:  # a national number missing its trunk prefix: the country code wins
        assert normalise_phone(digits, region) == digits


def _trunk(region: str) -> str | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata is not None else None


def _valid(text: str, region: str | None) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _written_nationally(number: PhoneNumber) -> str:
    return _only_digits(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))


def _only_digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())
