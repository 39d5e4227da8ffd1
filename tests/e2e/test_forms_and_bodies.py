"""Request bodies in every form clients send them, and the ones Kurir refuses.

PHP clients post forms as often as JSON: urlencoded or multipart, with the
buttons as ``buttons[]``, ``buttons[0]`` or one JSON-encoded field.
"""

import json
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.contract import (
    RECIPIENT,
    accepted_id,
    assert_error,
    button_body,
    get_message,
    nothing_stored,
)
from tests.support.server import KurirProcess

LABELS = ["Opsi 1", "Opsi 2", "Opsi 3"]
MAX_BODY = 64 * 1024
JSON_TYPE = {"Content-Type": "application/json"}
PostFunction = Callable[[httpx.Client, str], httpx.Response]
CONTENT_TYPES = (
    "Content-Type must be application/json, application/x-www-form-urlencoded "
    "or multipart/form-data"
)


def _fields(device: str, *, without: str = "") -> list[tuple[str, str]]:
    """The seed's fields but the buttons, as form pairs."""
    body = button_body(device)
    return [(name, str(value)) for name, value in body.items() if name not in ("buttons", without)]


def post_form(http: httpx.Client, encoding: str, pairs: list[tuple[str, str]]) -> httpx.Response:
    """POST ``pairs`` as PHP's http_build_query does, or as a multipart form."""
    if encoding == "urlencoded":
        return http.post(
            "/send/button",
            content=urlencode(pairs).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    # (None, value): a plain form field, not a file upload.
    return http.post("/send/button", files=[(name, (None, value)) for name, value in pairs])


def post_json_bytes(
    http: httpx.Client, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return http.post("/send/button", content=body, headers=headers)


@pytest.fixture(params=["urlencoded", "multipart"])
def encoding(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.mark.parametrize(
    "buttons",
    [
        pytest.param([("buttons[]", label) for label in LABELS], id="buttons[]"),
        pytest.param([(f"buttons[{i}]", label) for i, label in enumerate(LABELS)], id="buttons[i]"),
        pytest.param(
            [("buttons[2]", "Opsi 3"), ("buttons[0]", "Opsi 1"), ("buttons[1]", "Opsi 2")],
            id="buttons[i] out of order",
        ),
        pytest.param([("buttons", json.dumps(LABELS))], id="JSON-encoded string"),
        pytest.param([("buttons", label) for label in LABELS], id="repeated name"),
    ],
)
def test_a_php_form_is_accepted(
    shared_server: KurirProcess,
    http: httpx.Client,
    encoding: str,
    buttons: list[tuple[str, str]],
) -> None:
    response = post_form(http, encoding, _fields(shared_server.device_id) + buttons)
    message_id = accepted_id(response)
    assert list(response.json()) == ["status", "message_id", "from", "to", "message"]
    assert response.json()["to"] == RECIPIENT
    content = get_message(http, message_id)["content"]
    assert content["buttons"] == LABELS
    assert content["message_header"] == "Header"
    assert content["message"] == "Pilih salah satu:"
    assert content["message_footer"] == "Footer"


def test_a_lone_buttons_field_is_one_label(
    shared_server: KurirProcess, http: httpx.Client, encoding: str
) -> None:
    # As two `buttons` fields are two labels, one is one label (not a JSON array).
    pairs = [*_fields(shared_server.device_id), ("buttons", "Opsi 1")]
    content = get_message(http, accepted_id(post_form(http, encoding, pairs)))["content"]
    assert content["buttons"] == ["Opsi 1"]


@pytest.mark.parametrize(
    ("without", "extra", "message"),
    [
        pytest.param("message", [("buttons[]", "A")], "message is required", id="no message"),
        pytest.param("", [], "buttons is required", id="no buttons"),
        pytest.param(
            "",
            [("buttons[]", "A"), ("buttons[1]", "B")],
            "buttons is given both as buttons[] and as buttons[1]; use one style",
            id="buttons[] and buttons[i]",
        ),
        pytest.param(
            "",
            [("buttons", "A"), ("buttons[]", "B")],
            "buttons is given both as buttons and as buttons[]; use one style",
            id="buttons and buttons[]",
        ),
        pytest.param(
            "",
            [("buttons[0]", "A"), ("buttons", '["B"]')],
            "buttons is given both as buttons[0] and as buttons; use one style",
            id="buttons[i] and JSON",
        ),
        pytest.param(
            "",
            [("buttons[1]", "A"), ("buttons[01]", "B")],
            "buttons[1] is given twice",
            id="one index twice",
        ),
        pytest.param(
            "", [("buttons", '["A",')], "buttons is not a valid JSON array", id="broken JSON"
        ),
        pytest.param(
            "",
            [("buttons", "[" * 5000)],
            "buttons is not a valid JSON array",
            id="JSON nested too deeply",
        ),
        pytest.param("", [("buttons", "[1]")], "buttons[0] must be a string", id="number label"),
        pytest.param("", [("buttons[]", "")], "buttons[0] must not be empty", id="empty label"),
        pytest.param(
            "",
            [("buttons[0]", "A"), ("buttons[10000]", "B")],
            "buttons[] indexes must be whole numbers up to 9999",
            id="index too large",
        ),
        pytest.param(
            "device",
            [("device[]", "x"), ("buttons[]", "A")],
            "device must be a string",
            id="device as array",
        ),
        pytest.param(
            "phone",
            [("phone", "0811"), ("buttons[]", "A")],
            "phone is not a valid phone number: '0811'",
            id="bad phone",
        ),
    ],
)
def test_a_form_breaking_a_rule_is_refused(
    shared_server: KurirProcess,
    http: httpx.Client,
    encoding: str,
    without: str,
    extra: list[tuple[str, str]],
    message: str,
) -> None:
    with nothing_stored(shared_server):
        response = post_form(
            http, encoding, _fields(shared_server.device_id, without=without) + extra
        )
    assert_error(response, 422, message)


_FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("headers", "message_field"),
    [
        pytest.param(_FORM_TYPE, b"Pilih\xff", id="urlencoded, raw"),
        pytest.param(_FORM_TYPE, b"Pilih%FF", id="urlencoded, percent-escaped"),
        pytest.param(_FORM_TYPE, b"Caf%C3", id="urlencoded, cut short"),
        pytest.param(
            {"Content-Type": "multipart/form-data; boundary=b0undary"}, b"Pilih\xff", id="multipart"
        ),
    ],
)
def test_a_form_field_that_is_not_utf8_is_refused_with_400(
    shared_server: KurirProcess, http: httpx.Client, headers: dict[str, str], message_field: bytes
) -> None:
    """It was stored with U+FFFD in place of the bytes; a JSON body like it is a 400 too."""
    fields = [*_fields(shared_server.device_id, without="message"), ("buttons[]", "A")]
    if headers is _FORM_TYPE:
        body = urlencode(fields).encode() + b"&message=" + message_field
        message = "Request body is not a valid form: field 'message' is not valid UTF-8"
    else:
        parts = [(name.encode(), value.encode()) for name, value in fields]
        parts.append((b"message", message_field))
        body = b"".join(
            b'--b0undary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name, value)
            for name, value in parts
        )
        body += b"--b0undary--\r\n"
        message = "Request body is not a valid multipart form: field 'message' is not valid UTF-8"
    with nothing_stored(shared_server):
        response = post_json_bytes(http, body, headers)
    assert_error(response, 400, message)


def test_valid_utf8_in_every_form_arrives_as_written(
    shared_server: KurirProcess, http: httpx.Client, encoding: str
) -> None:
    pairs = [*_fields(shared_server.device_id, without="message"), ("message", "Café 😀 漢字")]
    pairs.append(("buttons[]", "Ya ✓"))
    content = get_message(http, accepted_id(post_form(http, encoding, pairs)))["content"]
    assert (content["message"], content["buttons"]) == ("Café 😀 漢字", ["Ya ✓"])


@pytest.mark.parametrize(
    ("encoding", "status", "message"),
    [
        ("urlencoded", 422, "buttons[] indexes must be whole numbers up to 9999"),
        # python-multipart gives up on a header this long before Kurir sees the field.
        ("multipart", 400, "Request body is not a valid multipart form: Invalid multipart data."),
    ],
)
def test_a_form_index_of_5000_digits_is_refused(
    shared_server: KurirProcess, http: httpx.Client, encoding: str, status: int, message: str
) -> None:
    pairs = [
        *_fields(shared_server.device_id),
        ("buttons[0]", "A"),
        (f"buttons[{'1' * 5000}]", "B"),
    ]
    with nothing_stored(shared_server):
        response = post_form(http, encoding, pairs)
    assert_error(response, status, message)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Content-Type": "application/json; charset=utf-8"}, id="with charset"),
        pytest.param({"Content-Type": "Application/JSON"}, id="upper case"),
        # What curl -d and PHP's CURLOPT_POSTFIELDS send when the header is forgotten.
        pytest.param(
            {"Content-Type": "application/x-www-form-urlencoded"}, id="JSON behind a form type"
        ),
        pytest.param({}, id="no content type"),
        # What fetch() sends for a string body when no header is set.
        pytest.param({"Content-Type": "text/plain;charset=UTF-8"}, id="text/plain"),
    ],
)
def test_a_json_body_is_read_whatever_its_content_type_says(
    shared_server: KurirProcess, http: httpx.Client, headers: dict[str, str]
) -> None:
    body = json.dumps(button_body(shared_server.device_id)).encode()
    accepted_id(post_json_bytes(http, body, headers))


def test_a_byte_order_mark_before_json_is_ignored(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(button_body(shared_server.device_id)).encode()
    accepted_id(post_json_bytes(http, body, {"Content-Type": "application/json"}))


def test_php_json_encode_escapes_are_decoded(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    texts = {"message_header": "Promo 1/2", "message": "Café 😀", "buttons": ["Ya ✓", "Tidak"]}
    # PHP's json_encode escapes "/" and everything beyond ASCII (emoji as surrogate pairs).
    body = json.dumps(button_body(shared_server.device_id, **texts), separators=(",", ":"))
    body = body.replace("/", "\\/")
    assert all(escape in body for escape in ("\\u00e9", "\\ud83d\\ude00", "1\\/2"))
    content = get_message(http, accepted_id(post_json_bytes(http, body.encode(), JSON_TYPE)))
    assert {name: content["content"][name] for name in texts} == texts


_NOT_JSON = "Request body is not valid JSON: "


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        (JSON_TYPE, b'{"device": ', 400, _NOT_JSON + "Input data was truncated"),
        (
            JSON_TYPE,
            b'{"a":1}{',
            400,
            _NOT_JSON + "JSON is malformed: trailing characters (byte 8)",
        ),
        (
            JSON_TYPE,
            b"{'device': 'x'}",
            400,
            _NOT_JSON + "JSON is malformed: object keys must be strings (byte 1)",
        ),
        (
            JSON_TYPE,
            b'{"device": "x",}',
            400,
            _NOT_JSON + "JSON is malformed: trailing comma in object (byte 15)",
        ),
        (JSON_TYPE, b"\xff\xfe", 400, _NOT_JSON + "JSON is malformed: invalid character (byte 0)"),
        (JSON_TYPE, b"[" * 5000, 400, _NOT_JSON + "it is nested too deeply"),
        (JSON_TYPE, b'{"a":' + b"[" * 5000, 400, _NOT_JSON + "it is nested too deeply"),
        (
            JSON_TYPE,
            b'{"phone": ' + b"6" * 5000 + b"}",
            400,
            _NOT_JSON + "Integer value out of range - at `$[...]`",
        ),
        (JSON_TYPE, b"", 400, "Request body is empty; expected a JSON object"),
        (JSON_TYPE, b" \r\n\t", 400, "Request body is empty; expected a JSON object"),
        (JSON_TYPE, b"[]", 400, "Request body must be a JSON object"),
        (JSON_TYPE, b'["device"]', 400, "Request body must be a JSON object"),
        (JSON_TYPE, b'"text"', 400, "Request body must be a JSON object"),
        (JSON_TYPE, b"null", 400, "Request body must be a JSON object"),
        (JSON_TYPE, b"42", 400, "Request body must be a JSON object"),
        (
            {"Content-Type": "multipart/form-data"},
            b"device=x",
            400,
            "Request body is not a valid multipart form: Missing boundary in multipart.",
        ),
        (
            {"Content-Type": "multipart/form-data; boundary=abc"},
            b"x",
            400,
            "Request body is not a valid multipart form: Invalid multipart data.",
        ),
        ({"Content-Type": "text/plain"}, b"device=x", 415, CONTENT_TYPES),
        ({"Content-Type": "text/xml"}, b"<send/>", 415, CONTENT_TYPES),
        ({"Content-Type": "application/octet-stream"}, b"\x00\x01", 415, CONTENT_TYPES),
        ({}, b"device=x", 415, CONTENT_TYPES),
        ({}, b"", 415, CONTENT_TYPES),
    ],
)
def test_an_unreadable_body_is_refused(
    shared_server: KurirProcess,
    http: httpx.Client,
    headers: dict[str, str],
    body: bytes,
    status: int,
    message: str,
) -> None:
    with nothing_stored(shared_server):
        response = post_json_bytes(http, body, headers)
    assert_error(response, status, message)


# -- size ------------------------------------------------------------------------------------


def _padded_body(device: str, size: int) -> bytes:
    """A valid JSON request of exactly ``size`` bytes (whitespace is valid JSON padding)."""
    body = json.dumps(button_body(device)).encode()
    return body + b" " * (size - len(body))


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A body without Content-Length: the server must count as it reads."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_body_of_exactly_64_kib_is_accepted(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    body = _padded_body(shared_server.device_id, MAX_BODY)
    assert len(body) == MAX_BODY
    accepted_id(post_json_bytes(http, body, JSON_TYPE))


@pytest.mark.parametrize(
    "post",
    [
        pytest.param(
            lambda http, device: post_json_bytes(
                http, _padded_body(device, MAX_BODY + 1), JSON_TYPE
            ),
            id="JSON one byte over",
        ),
        pytest.param(
            lambda http, device: http.post(
                "/send/button",
                content=_chunks(_padded_body(device, MAX_BODY + 5000)),
                headers=JSON_TYPE,
            ),
            id="chunked JSON",
        ),
        pytest.param(
            lambda http, device: post_form(
                http, "urlencoded", [*_fields(device), ("buttons[]", "x" * MAX_BODY)]
            ),
            id="urlencoded",
        ),
        pytest.param(
            lambda http, device: post_form(
                http, "multipart", [*_fields(device), ("buttons[]", "x" * MAX_BODY)]
            ),
            id="multipart",
        ),
    ],
)
def test_a_body_over_64_kib_is_refused_with_413(
    shared_server: KurirProcess,
    http: httpx.Client,
    post: PostFunction,
) -> None:
    with nothing_stored(shared_server):
        response = post(http, shared_server.device_id)
    assert_error(response, 413, "Request body is larger than 65536 bytes")


def test_a_json_number_as_long_as_python_reads_is_refused_as_a_phone(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    # msgspec reads up to 4,300 digits (beyond that, the 400 above); a phone has far fewer.
    with nothing_stored(shared_server):
        response = http.post(
            "/send/button", json=button_body(shared_server.device_id, phone=int("6" * 4300))
        )
    assert_error(response, 422, f"phone is not a valid phone number: {'6' * 32!r}")
