"""Numbers read from requests: bounded before they are converted."""

import pytest
from starlette.requests import Request
from starlette.types import Message

from kurir.api.body import read_body, whole_number
from kurir.api.errors import ApiError


@pytest.mark.parametrize(
    ("text", "maximum", "value"),
    [
        ("0", 500, 0),
        ("500", 500, 500),
        ("0500", 500, 500),
        ("0" * 5000 + "7", 500, 7),  # leading zeros do not count against the length
        ("501", 500, None),
        ("1000", 500, None),
        ("1" * 5000, 500, None),  # int() would refuse it with a ValueError
        ("", 500, None),
        ("-1", 500, None),
        ("+1", 500, None),
        (" 1", 500, None),
        ("1.0", 500, None),
        ("²", 500, None),
        ("\u0661", 500, None),  # an Arabic-Indic one: isdigit() says yes, Kurir says no
    ],
)
def test_whole_number(text: str, maximum: int, value: int | None) -> None:
    assert whole_number(text, maximum) == value


def _request(content_length: str, body: bytes) -> Request:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/send/button",
        "headers": [(b"content-length", content_length.encode("latin-1"))],
    }
    return Request(scope, receive)


@pytest.mark.parametrize("declared", ["1" * 5000, "65537", "99999999999999999999999"])
async def test_a_declared_length_over_the_limit_is_413_before_reading(declared: str) -> None:
    with pytest.raises(ApiError) as caught:
        await read_body(_request(declared, b"{}"), 65536)
    assert (caught.value.status_code, caught.value.message) == (
        413,
        "Request body is larger than 65536 bytes",
    )


@pytest.mark.parametrize("declared", ["2", "0" * 5000 + "2", "65536", "x"])
async def test_a_declared_length_within_the_limit_reads_the_body(declared: str) -> None:
    assert await read_body(_request(declared, b"{}"), 65536) == b"{}"
