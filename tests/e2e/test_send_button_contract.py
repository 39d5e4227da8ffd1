"""POST /send/button against a real server: the seed's clients, and every rule of the body.

Each refused request is checked for its exact status and message, and for
having stored nothing at all.
"""

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from kurir.domain.ids import is_message_id
from tests.e2e.contract import (
    OMIT,
    RECIPIENT,
    accepted_id,
    assert_error,
    button_body,
    get_message,
    nothing_stored,
    post_raw,
    sandbox_deliveries,
    send,
    stored_message_ids,
    wait_for_status,
)
from tests.support.server import KurirProcess

# -- the seed's examples, byte for byte as each client sends them ------------------------


def _curl_body(body: dict[str, object]) -> bytes:
    # The seed's curl -d: one field a line, no indent, a space after the closing brace.
    return json.dumps(body, indent=0).encode() + b" "


def _compact_body(body: dict[str, object]) -> bytes:
    # PHP's json_encode and Node's JSON.stringify.
    return json.dumps(body, separators=(",", ":")).encode()


def _requests_body(body: dict[str, object]) -> bytes:
    # Python requests' json=: json.dumps with its default separators.
    return json.dumps(body).encode()


SEED_CLIENTS = [
    pytest.param(" {key} ", "application/json ", _curl_body, id="curl"),
    pytest.param("{key}", "application/json", _compact_body, id="php"),
    pytest.param("{key} ", "application/json ", _compact_body, id="node"),
    pytest.param("{key}", "application/json", _requests_body, id="python-requests"),
]


@pytest.mark.parametrize(("authorization", "content_type", "encode"), SEED_CLIENTS)
def test_seed_example_succeeds_with_the_documented_response(
    shared_server: KurirProcess,
    authorization: str,
    content_type: str,
    encode: Callable[[dict[str, object]], bytes],
) -> None:
    response = post_raw(
        shared_server,
        "/send/button",
        {
            "Authorization": authorization.format(key=shared_server.api_key),
            "Content-Type": content_type,
        },
        encode(button_body(shared_server.device_id)),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    # Exactly the seed's fields, in the seed's order.
    assert response.content.startswith(b'{"status":"ok","message_id":"')
    assert list(body) == ["status", "message_id", "from", "to", "message"]
    assert body == {
        "status": "ok",
        "message_id": body["message_id"],
        "from": shared_server.device_phone,
        "to": RECIPIENT,
        "message": "Success",
    }
    assert is_message_id(body["message_id"])
    # Answered only after the commit: the row is there the moment the answer is.
    assert body["message_id"] in stored_message_ids(shared_server.database_url)


@pytest.mark.parametrize(
    "authorization",
    [
        "{key}",
        "Bearer {key}",
        "bearer {key}",
        "BEARER {key}",
        "Bearer    {key}",
        "   {key}   ",
        "\t{key}\t",
        "  Bearer {key}  ",
    ],
)
def test_the_key_is_accepted_bare_after_bearer_and_with_whitespace(
    shared_server: KurirProcess, authorization: str
) -> None:
    response = post_raw(
        shared_server,
        "/send/button",
        {
            "Authorization": authorization.format(key=shared_server.api_key),
            "Content-Type": "application/json",
        },
        _compact_body(button_body(shared_server.device_id)),
    )
    assert accepted_id(response)
    assert response.json()["to"] == RECIPIENT


def test_message_ids_have_the_whatsapp_web_shape_and_are_unique(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    ids = [accepted_id(send(http, shared_server.device_id)) for _ in range(10)]
    assert all(is_message_id(message_id) for message_id in ids)
    assert len(set(ids)) == len(ids)


# -- authentication -------------------------------------------------------------------------

_WRONG_KEYS = [
    pytest.param(None, id="no header"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("Bearer", id="bearer without key"),
    pytest.param("Bearer ", id="bearer and space"),
    pytest.param("not-the-key", id="wrong key"),
    pytest.param("Bearer not-the-key", id="wrong key after bearer"),
    pytest.param("{key}x", id="key with a suffix"),
    pytest.param("{key_head}", id="key without its last character"),
    pytest.param("Bearer Bearer {key}", id="bearer twice"),
    pytest.param("Basic {basic}", id="basic auth"),
    pytest.param("k" * 300, id="very long"),
]


@pytest.mark.parametrize("authorization", _WRONG_KEYS)
def test_a_missing_or_wrong_key_is_refused_with_401(
    shared_server: KurirProcess, authorization: str | None
) -> None:
    key = shared_server.api_key
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        basic = base64.b64encode(f"user:{key}".encode()).decode()
        headers["Authorization"] = authorization.format(key=key, key_head=key[:-1], basic=basic)
    with nothing_stored(shared_server):
        response = post_raw(
            shared_server,
            "/send/button",
            headers,
            _compact_body(button_body(shared_server.device_id)),
        )
    assert_error(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_key_is_checked_before_the_body_is_read(shared_server: KurirProcess) -> None:
    with nothing_stored(shared_server):
        response = httpx.post(
            f"{shared_server.base_url}/send/button",
            content=b"{not json",
            headers={"Authorization": "wrong", "Content-Type": "application/json"},
        )
    assert_error(response, 401, "Unauthorized")


# -- the fields -------------------------------------------------------------------------------

_TEXT_FIELDS = ("device", "phone", "message_header", "message", "message_footer")


def _text_field_cases() -> list[object]:
    cases: list[object] = []
    for name in _TEXT_FIELDS:
        cases += [
            pytest.param({name: OMIT}, f"{name} is required", id=f"{name} missing"),
            pytest.param({name: None}, f"{name} is required", id=f"{name} null"),
            pytest.param({name: ""}, f"{name} must not be empty", id=f"{name} empty"),
            pytest.param({name: " \t\n "}, f"{name} must not be empty", id=f"{name} blank"),
            pytest.param({name: ["x"]}, f"{name} must be a string", id=f"{name} array"),
            pytest.param({name: {"x": 1}}, f"{name} must be a string", id=f"{name} object"),
            pytest.param({name: True}, f"{name} must be a string", id=f"{name} boolean"),
            pytest.param({name: 1.5}, f"{name} must be a string", id=f"{name} float"),
        ]
        if name != "phone":  # a phone number may come as a JSON number (see below)
            cases.append(pytest.param({name: 7}, f"{name} must be a string", id=f"{name} int"))
    return cases


_LENGTH_CASES = [
    pytest.param(
        {"message_header": "h" * 61},
        "message_header is 61 characters; at most 60 are allowed",
        id="header 61",
    ),
    pytest.param(
        {"message_header": "  " + "h" * 61 + "  "},
        "message_header is 61 characters; at most 60 are allowed",
        id="header 61 after trimming",
    ),
    pytest.param(
        {"message": "m" * 1025},
        "message is 1025 characters; at most 1024 are allowed",
        id="message 1025",
    ),
    pytest.param(
        {"message_footer": "f" * 61},
        "message_footer is 61 characters; at most 60 are allowed",
        id="footer 61",
    ),
]

_BUTTON_CASES = [
    pytest.param({"buttons": OMIT}, "buttons is required", id="missing"),
    pytest.param({"buttons": None}, "buttons is required", id="null"),
    pytest.param({"buttons": []}, "buttons must hold at least one label", id="none"),
    pytest.param(
        {"buttons": [f"B{i}" for i in range(11)]},
        "buttons holds 11 labels; this device's transport sends at most 10",
        id="eleven",
    ),
    pytest.param({"buttons": ["A", ""]}, "buttons[1] must not be empty", id="empty label"),
    pytest.param({"buttons": ["A", "   "]}, "buttons[1] must not be empty", id="blank label"),
    pytest.param({"buttons": ["Ya", "Ya"]}, "buttons[1] repeats the label 'Ya'", id="duplicate"),
    pytest.param(
        {"buttons": ["Ya", "tidak", "YA"]},
        "buttons[2] repeats the label 'YA'",
        id="duplicate ignoring case",
    ),
    pytest.param(
        {"buttons": ["Ya", " Ya "]}, "buttons[1] repeats the label 'Ya'", id="duplicate trimmed"
    ),
    pytest.param(
        {"buttons": ["A", "x" * 21]},
        "buttons[1] is 21 characters; at most 20 are allowed",
        id="label 21",
    ),
    pytest.param({"buttons": [1, 2]}, "buttons[0] must be a string", id="number label"),
    pytest.param({"buttons": ["A", None]}, "buttons[1] must be a string", id="null label"),
    pytest.param({"buttons": ["A", ["B"]]}, "buttons[1] must be a string", id="nested label"),
    pytest.param({"buttons": "Opsi 1"}, "buttons must be an array of labels", id="string"),
    pytest.param({"buttons": {"0": "A"}}, "buttons must be an array of labels", id="object"),
    pytest.param({"buttons": 3}, "buttons must be an array of labels", id="number"),
    pytest.param({"buttons": '["A",'}, "buttons is not a valid JSON array", id="broken JSON"),
    pytest.param(
        {"buttons": ["Ya", "\uff39\uff41"]},
        "buttons[1] repeats the label '\uff39\uff41'",
        id="duplicate in fullwidth",
    ),
    pytest.param(
        {"buttons": ["Ya", "\u3164"]}, "buttons[1] must hold a visible character", id="blank label"
    ),
    pytest.param(
        {"buttons": ["\U0001f600" * 11]},
        "buttons[0] is 22 characters in UTF-16 units (an emoji counts 2 or more); "
        "at most 20 are allowed",
        id="label of 11 emoji",
    ),
]

_TEXT_RULE_CASES = [
    pytest.param(
        {"message_header": "Promo\x00"},
        "message_header must not hold control or format characters (found U+0000)",
        id="NUL in the header",
    ),
    pytest.param(
        {"message": "Isi\u200blagi"},
        "message must not hold control or format characters (found U+200B)",
        id="zero-width space in the body",
    ),
    pytest.param(
        {"message_footer": "\u2800"}, "message_footer must hold a visible character", id="blank"
    ),
]

_OTHER_CASES = [
    pytest.param({"schedule": 20261231}, "schedule must be a string", id="schedule number"),
    pytest.param({"schedule": ["x"]}, "schedule must be a string", id="schedule array"),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [*_text_field_cases(), *_LENGTH_CASES, *_BUTTON_CASES, *_TEXT_RULE_CASES, *_OTHER_CASES],
)
def test_an_invalid_field_is_refused_with_422_naming_it(
    shared_server: KurirProcess, http: httpx.Client, changes: dict[str, object], message: str
) -> None:
    with nothing_stored(shared_server):
        response = send(http, shared_server.device_id, **changes)
    assert_error(response, 422, message)


@pytest.mark.parametrize(
    ("changes", "content"),
    [
        pytest.param(
            {"message_header": "h" * 60, "message": "m" * 1024, "message_footer": "f" * 60},
            {"message_header": "h" * 60, "message": "m" * 1024, "message_footer": "f" * 60},
            id="longest texts",
        ),
        pytest.param(
            {"message_header": "  Header\n", "message": "\tIsi ", "message_footer": " Footer "},
            {"message_header": "Header", "message": "Isi", "message_footer": "Footer"},
            id="texts trimmed",
        ),
        pytest.param(
            {"buttons": ["x" * 20, " Opsi 2 "]},
            {"buttons": ["x" * 20, "Opsi 2"]},
            id="longest label, labels trimmed",
        ),
        pytest.param(
            {"buttons": [f"Opsi {i}" for i in range(1, 11)]},
            {"buttons": [f"Opsi {i}" for i in range(1, 11)]},
            id="ten buttons",
        ),
        pytest.param(
            {"message": "Pilih 🙂 ñ 漢字 " + "é" * 1000},
            {"message": "Pilih 🙂 ñ 漢字 " + "é" * 1000},
            id="non-ASCII counted in characters",
        ),
        pytest.param(
            {"buttons": '["Opsi 1", "Opsi 2"]'},
            {"buttons": ["Opsi 1", "Opsi 2"]},
            id="buttons as a JSON-encoded string",
        ),
        pytest.param(
            {"message_header": "Cafe\u0301", "message": "Baris 1\nBaris 2", "buttons": ["Ya"]},
            {"message_header": "Caf\u00e9", "message": "Baris 1\nBaris 2", "buttons": ["Ya"]},
            id="stored in NFC, line breaks kept in the body",
        ),
    ],
)
def test_the_limits_are_inclusive_and_texts_are_stored_trimmed(
    shared_server: KurirProcess,
    http: httpx.Client,
    changes: dict[str, object],
    content: dict[str, object],
) -> None:
    message_id = accepted_id(send(http, shared_server.device_id, **changes))
    stored = get_message(http, message_id)["content"]
    assert {name: stored[name] for name in content} == content


@pytest.mark.parametrize(
    ("count", "layout"),
    [(1, "reply_buttons"), (2, "reply_buttons"), (3, "reply_buttons"), (4, "list"), (10, "list")],
)
def test_up_to_three_buttons_are_reply_buttons_and_more_a_list(
    shared_server: KurirProcess, http: httpx.Client, count: int, layout: str
) -> None:
    buttons = [f"Opsi {i}" for i in range(1, count + 1)]
    message_id = accepted_id(send(http, shared_server.device_id, buttons=buttons))
    data = wait_for_status(http, message_id, "delivered")
    assert data["content"]["layout"] == layout
    assert data["content"]["buttons"] == buttons
    # The sandbox received it in that layout too.
    [delivery] = [
        item
        for item in sandbox_deliveries(http, shared_server.device_id)
        if item["message_id"] == message_id
    ]
    assert delivery["content"]["layout"] == layout


# -- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "normalised"),
    [
        ("08111111111", RECIPIENT),
        ("+62 811-1111-111", RECIPIENT),
        ("62 811 1111 111", RECIPIENT),
        ("628111111111", RECIPIENT),
        ("+628111111111", RECIPIENT),
        ("0062 811 1111 111", RECIPIENT),
        ("(0811) 1111-111", RECIPIENT),
        ("0811.1111.111", RECIPIENT),
        ("  08111111111  ", RECIPIENT),
        (628111111111, RECIPIENT),  # a JSON number, as loosely typed clients send it
        ("+60 12-345 6789", "60123456789"),  # another country, written internationally
    ],
)
def test_the_phone_is_normalised_to_country_code_and_number(
    shared_server: KurirProcess, http: httpx.Client, phone: object, normalised: str
) -> None:
    response = send(http, shared_server.device_id, phone=phone)
    message_id = accepted_id(response)
    assert response.json()["to"] == normalised
    assert get_message(http, message_id)["to"] == normalised


@pytest.mark.parametrize(
    "phone",
    [
        "12345",
        "0811",
        "abc",
        "+",
        "---",
        "-628111111111",
        "62811111111111111111",
        "+62 811 1111 111 ext 2",
        5,
    ],
)
def test_a_number_that_is_not_a_phone_number_is_refused(
    shared_server: KurirProcess, http: httpx.Client, phone: object
) -> None:
    with nothing_stored(shared_server):
        response = send(http, shared_server.device_id, phone=phone)
    assert_error(response, 422, f"phone is not a valid phone number: {str(phone).strip()!r}")


# -- the device ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "shown"),
    [
        ("no-such-device", "'no-such-device'"),
        ("DEV-MAIN", "'DEV-MAIN'"),
        ("dev\x00", "'dev\\x00'"),  # PostgreSQL refuses NUL in text: must not become a 503
        ("d" * 100, repr("d" * 64)),
    ],
)
def test_an_unknown_device_is_404(
    shared_server: KurirProcess, http: httpx.Client, device: str, shown: str
) -> None:
    with nothing_stored(shared_server):
        response = send(http, device)
    assert_error(response, 404, f"device {shown} not found")


# -- routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/nothing-here", 404, "Not found"),
        ("POST", "/send/location", 404, "Not found"),
        ("POST", "/send/button/extra", 404, "Not found"),
        ("POST", "/send/button/", 404, "Not found"),
        ("GET", "/message", 404, "Not found"),
        ("GET", "/send/button", 405, "Method not allowed"),
        ("PUT", "/send/button", 405, "Method not allowed"),
        ("POST", "/device/list", 405, "Method not allowed"),
        ("POST", "/healthz", 405, "Method not allowed"),
        ("PATCH", "/message/3EB0000000000000ABCD", 405, "Method not allowed"),
    ],
)
def test_unknown_routes_and_methods_answer_in_the_error_shape(
    shared_server: KurirProcess,
    http: httpx.Client,
    method: str,
    path: str,
    status: int,
    message: str,
) -> None:
    with nothing_stored(shared_server):
        response = http.request(method, path, json=button_body(shared_server.device_id))
    assert_error(response, status, message)
    if status == 405:
        assert method not in response.headers["allow"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/send/button", {"POST"}),
        ("PATCH", "/message/3EB0000000000000ABCD", {"GET", "HEAD", "DELETE"}),
        ("POST", "/message/3EB0000000000000ABCD", {"GET", "HEAD", "DELETE"}),
        ("DELETE", "/device/list", {"GET", "HEAD"}),
        ("GET", "/sandbox/dev-main/reply", {"POST"}),
        ("POST", "/sandbox/dev-main/messages", {"GET", "HEAD"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
    ],
)
def test_a_405_lists_every_method_the_path_has_in_allow(
    http: httpx.Client, method: str, path: str, allowed: set[str]
) -> None:
    response = http.request(method, path)
    assert_error(response, 405, "Method not allowed")
    assert {name.strip() for name in response.headers["allow"].split(",")} == allowed


def test_head_of_a_message_is_answered_as_get(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    message_id = accepted_id(send(http, shared_server.device_id))
    response = http.head(f"/message/{message_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
