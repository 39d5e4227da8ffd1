"""Phone numbers: every way a client writes one number reaches the same recipient."""

import pytest

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
        # A US number without + is read as Indonesian, and is not a valid one.
        ("16502530000", "phone is not a valid phone number: '16502530000'"),
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
