"""Device ids: what a device may be called, so that every API path can reach it."""

import pytest

from kurir.domain.devices import check_device_id, is_device_id
from kurir.domain.errors import ValidationError

RULE = "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got"


@pytest.mark.parametrize("value", ["a", "dev-main", "Shop_1", "0" * 64, "3f2a9c1b7d0e"])
def test_ids_of_letters_digits_underscore_and_hyphen_are_device_ids(value: str) -> None:
    assert is_device_id(value)
    assert check_device_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 65,
        "s/x",  # a path separator: /sandbox/s/x/reply would never reach it
        "toko 1",
        "toko.1",
        "a%2Fb",
        "dev\x00",
        "dev\n",
        "café",
        "\uff44ev",  # a fullwidth letter
        "\u0661",  # an Arabic-Indic digit, which \\d would have taken
    ],
)
def test_anything_else_is_not(value: str) -> None:
    assert not is_device_id(value)
    with pytest.raises(ValidationError) as caught:
        check_device_id(value, field="--id")
    assert caught.value.message == f"--id {RULE} {value[:64]!r}"
