"""Every rule of POST /send/text and /send/media: each bad input, its exact message, nothing stored.

The shared server refuses private addresses (``KURIR_ALLOW_PRIVATE_URLS`` is
off), so a URL naming one is refused when the request is accepted. Accepted
media messages here are addressed to a URL that never resolves, on a device
of this module's own, so the shared device is never held up fetching it.
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.contract import (
    OMIT,
    accepted_id,
    assert_error,
    get_message,
    media_body,
    nothing_stored,
    post_body,
    text_body,
)
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess


@pytest.fixture(scope="module")
def media_tenant(shared_server: KurirProcess) -> Tenant:
    return provision_tenant(shared_server.database_url, device_phone="628155555556")


@pytest.fixture(scope="module")
def media_http(shared_server: KurirProcess, media_tenant: Tenant) -> Iterator[httpx.Client]:
    with shared_server.client(media_tenant.api_key) as client:
        yield client


def _field_cases(names: tuple[str, ...]) -> list[object]:
    """A required text field missing, null, empty, blank, or not text."""
    cases: list[object] = []
    for name in names:
        cases += [
            pytest.param({name: OMIT}, f"{name} is required", id=f"{name} missing"),
            pytest.param({name: None}, f"{name} is required", id=f"{name} null"),
            pytest.param({name: ["x"]}, f"{name} must be a string", id=f"{name} array"),
            pytest.param({name: {"x": 1}}, f"{name} must be a string", id=f"{name} object"),
            pytest.param({name: True}, f"{name} must be a string", id=f"{name} boolean"),
            pytest.param({name: 1.5}, f"{name} must be a string", id=f"{name} float"),
        ]
        if name != "url":  # a URL is checked as a URL, below
            cases += [
                pytest.param({name: ""}, f"{name} must not be empty", id=f"{name} empty"),
                pytest.param({name: " \t\n "}, f"{name} must not be empty", id=f"{name} blank"),
            ]
        if name != "phone":  # a phone number may come as a JSON number
            cases.append(pytest.param({name: 7}, f"{name} must be a string", id=f"{name} int"))
    return cases


_COMMON_CASES = [
    pytest.param({"phone": "0811"}, "phone is not a valid phone number: '0811'", id="bad phone"),
    pytest.param({"schedule": 20261231}, "schedule must be a string", id="schedule number"),
    pytest.param(
        {"schedule": "2020-13-45 25:00:00"},
        "schedule must be a date and time as 'Y-m-d H:i:s' (for example 2026-12-31 09:30:00) "
        "or ISO 8601, got '2020-13-45 25:00:00'",
        id="schedule not a date",
    ),
]

# -- /send/text -------------------------------------------------------------------------------

_TEXT_CASES = [
    pytest.param(
        {"message": "m" * 4097},
        "message is 4097 characters; at most 4096 are allowed",
        id="message 4097",
    ),
    pytest.param(
        {"message": "\n " + "m" * 4097 + " \n"},
        "message is 4097 characters; at most 4096 are allowed",
        id="message 4097 after trimming",
    ),
    pytest.param(
        {"message": "\U0001f600" * 2049},
        "message is 4098 characters in UTF-16 units (an emoji counts 2 or more); "
        "at most 4096 are allowed",
        id="2049 emoji",
    ),
    pytest.param(
        {"message": "Halo\x00"},
        "message must not hold control or format characters (found U+0000)",
        id="NUL",
    ),
    pytest.param(
        {"message": "Kolom\tdua"},
        "message must not hold control or format characters (found U+0009)",
        id="tab",
    ),
    pytest.param(
        {"message": "Bel\x07"},
        "message must not hold control or format characters (found U+0007)",
        id="bell",
    ),
    pytest.param(
        {"message": "Isi\u200blagi"},
        "message must not hold control or format characters (found U+200B)",
        id="zero-width space",
    ),
    pytest.param(
        {"message": "abc\u202edef"},
        "message must not hold control or format characters (found U+202E)",
        id="direction override",
    ),
    pytest.param(
        {"message": "\ufeffHalo"},
        "message must not hold control or format characters (found U+FEFF)",
        id="byte-order mark",
    ),
    pytest.param({"message": "\u3164"}, "message must hold a visible character", id="blank"),
    pytest.param(
        {"message": "\u2800 \u2800"}, "message must hold a visible character", id="blank braille"
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [*_field_cases(("device", "phone", "message")), *_COMMON_CASES, *_TEXT_CASES],
)
def test_a_text_breaking_a_rule_is_refused_naming_the_field(
    shared_server: KurirProcess, http: httpx.Client, changes: dict[str, object], message: str
) -> None:
    with nothing_stored(shared_server):
        response = http.post("/send/text", json=text_body(shared_server.device_id, **changes))
    assert_error(response, 422, message)


@pytest.mark.parametrize(
    ("message", "stored"),
    [
        pytest.param("m" * 4096, "m" * 4096, id="4096"),
        pytest.param("\U0001f600" * 2048, "\U0001f600" * 2048, id="2048 emoji"),
        pytest.param("  Halo \n", "Halo", id="trimmed"),
        pytest.param("Baris 1\nBaris 2\r\nBaris 3", "Baris 1\nBaris 2\r\nBaris 3", id="lines"),
        pytest.param("Cafe\u0301", "Caf\u00e9", id="NFC"),
        pytest.param("\U0001f468\u200d\U0001f469\u200d\U0001f467", None, id="joiners kept"),
        pytest.param("\u0645\u0631\u062d\u0628\u0627\u200f!", None, id="direction mark kept"),
    ],
)
def test_the_text_limits_are_inclusive_and_texts_are_stored_trimmed(
    shared_server: KurirProcess, http: httpx.Client, message: str, stored: str | None
) -> None:
    response = http.post("/send/text", json=text_body(shared_server.device_id, message=message))
    content = get_message(http, accepted_id(response))["content"]
    assert content == {"message": message if stored is None else stored}


# -- /send/media ------------------------------------------------------------------------------

_URL_CASES = [
    pytest.param(
        {"url": ""}, "url: must be an absolute URL starting with http:// or https://", id="empty"
    ),
    pytest.param(
        {"url": "  "}, "url: must be an absolute URL starting with http:// or https://", id="blank"
    ),
    pytest.param(
        {"url": "media.example/a.png"},
        "url: must be an absolute URL starting with http:// or https://",
        id="no scheme",
    ),
    pytest.param(
        {"url": "//media.example/a.png"},
        "url: must be an absolute URL starting with http:// or https://",
        id="scheme-relative",
    ),
    pytest.param(
        {"url": "ftp://media.example/a.png"}, "url: scheme must be http or https, not 'ftp'"
    ),
    pytest.param({"url": "file:///etc/passwd"}, "url: scheme must be http or https, not 'file'"),
    pytest.param(
        {"url": "javascript:alert(1)"}, "url: scheme must be http or https, not 'javascript'"
    ),
    pytest.param({"url": "http://"}, "url: URL has no host"),
    pytest.param({"url": "http:///a.png"}, "url: URL has no host"),
    pytest.param(
        {"url": "http://exa mple.com/a.png"}, "url: host 'exa%20mple.com' is not a valid host name"
    ),
    pytest.param({"url": "http://media.example:99999/"}, "url: port must be 1 to 65535, not 99999"),
    pytest.param({"url": "http://media.example:0/"}, "url: port must be 1 to 65535, not 0"),
    pytest.param({"url": "http://[::1/"}, "url: not a valid URL: Invalid port: ':1'"),
    pytest.param(
        {"url": "http://media.example/a\x00b"},
        "url: not a valid URL: Invalid non-printable ASCII character in URL, '\\x00' at "
        "position 22.",
        id="NUL",
    ),
]


def _private(url: str, host: str, reason: str) -> object:
    return pytest.param(
        {"url": url}, f"url: {host} is {reason}, which Kurir does not connect to", id=host
    )


_PRIVATE_CASES = [
    _private("http://127.0.0.1/a.png", "127.0.0.1", "a loopback address"),
    _private("https://user:pw@127.0.0.1:8443/a.png?t=1", "127.0.0.1", "a loopback address"),
    _private("http://[::1]/a.png", "::1", "a loopback address"),
    _private("http://[::ffff:127.0.0.1]/a.png", "::ffff:127.0.0.1", "a loopback address"),
    _private("http://localhost:8080/a.png", "localhost", "a loopback address"),
    _private("http://files.localhost/a.png", "files.localhost", "a loopback address"),
    _private("http://10.1.2.3/a.png", "10.1.2.3", "a private address"),
    _private("http://172.16.0.1/a.png", "172.16.0.1", "a private address"),
    _private("http://192.168.1.10/a.png", "192.168.1.10", "a private address"),
    _private("http://100.64.0.1/a.png", "100.64.0.1", "a private address"),
    _private("http://[fd00::1]/a.png", "fd00::1", "a private address"),
    _private(
        "http://169.254.169.254/latest/meta-data/", "169.254.169.254", "a cloud metadata address"
    ),
    _private("http://0.0.0.0/a.png", "0.0.0.0", "an unspecified address"),
]

_MEDIA_CASES = [
    pytest.param({"type": 5}, "type must be image, video, audio or document", id="type number"),
    pytest.param(
        {"type": ["image"]}, "type must be image, video, audio or document", id="type array"
    ),
    pytest.param(
        {"type": "gif"}, "type must be image, video, audio or document, not 'gif'", id="type gif"
    ),
    pytest.param(
        {"type": " sticker "},
        "type must be image, video, audio or document, not 'sticker'",
        id="type sticker",
    ),
    pytest.param(
        {"type": "x" * 50},
        f"type must be image, video, audio or document, not {'x' * 20!r}",
        id="type long",
    ),
    pytest.param(
        {"type": "audio", "caption": "Dengar ini"},
        "caption: WhatsApp shows no caption on audio messages",
        id="caption on audio",
    ),
    pytest.param(
        {"type": " AUDIO ", "caption": "Dengar ini"},
        "caption: WhatsApp shows no caption on audio messages",
        id="caption on AUDIO",
    ),
    pytest.param({"caption": ["a"]}, "caption must be a string", id="caption array"),
    pytest.param(
        {"caption": "c" * 1025},
        "caption is 1025 characters; at most 1024 are allowed",
        id="caption 1025",
    ),
    pytest.param(
        {"caption": "Foto\x00"},
        "caption must not hold control or format characters (found U+0000)",
        id="caption NUL",
    ),
    pytest.param(
        {"caption": "\u3164"}, "caption must hold a visible character", id="caption blank"
    ),
    pytest.param({"filename": 5}, "filename must be a string", id="filename number"),
    pytest.param(
        {"filename": "docs/a.pdf"}, "filename must be a name, not a path", id="filename path"
    ),
    pytest.param(
        {"filename": "..\\a.pdf"}, "filename must be a name, not a path", id="filename dos path"
    ),
    pytest.param(
        {"filename": "f" * 241},
        "filename is 241 characters; at most 240 are allowed",
        id="filename 241",
    ),
    pytest.param(
        {"filename": "a\nb.pdf"},
        "filename must not hold control or format characters (found U+000A)",
        id="filename line break",
    ),
    pytest.param(
        {"filename": "\u2800"}, "filename must hold a visible character", id="filename blank"
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        *_field_cases(("device", "phone", "url")),
        *_COMMON_CASES,
        *_URL_CASES,
        *_PRIVATE_CASES,
        *_MEDIA_CASES,
    ],
)
def test_media_breaking_a_rule_is_refused_naming_the_field(
    shared_server: KurirProcess, http: httpx.Client, changes: dict[str, object], message: str
) -> None:
    with nothing_stored(shared_server):
        response = http.post("/send/media", json=media_body(shared_server.device_id, **changes))
    assert_error(response, 422, message)


@pytest.mark.parametrize("style", ["urlencoded", "multipart"])
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"url": OMIT}, "url is required", id="no url"),
        pytest.param({"message": OMIT}, "message is required", id="no message"),
        pytest.param({"type": "gif"}, "type must be image, video, audio or document, not 'gif'"),
        pytest.param(
            {"url": "http://127.0.0.1/a.png"},
            "url: 127.0.0.1 is a loopback address, which Kurir does not connect to",
            id="private url",
        ),
        pytest.param({"device[]": "x", "device": OMIT}, "device must be a string", id="device[]"),
    ],
)
def test_a_form_breaking_a_rule_is_refused(
    shared_server: KurirProcess,
    http: httpx.Client,
    style: str,
    changes: dict[str, object],
    message: str,
) -> None:
    path = "/send/text" if "message" in changes else "/send/media"
    build = text_body if path == "/send/text" else media_body
    with nothing_stored(shared_server):
        response = post_body(http, path, style, build(shared_server.device_id, **changes))
    assert_error(response, 422, message)


@pytest.mark.parametrize("path", ["/send/text", "/send/media"])
@pytest.mark.parametrize(
    ("device", "shown"),
    [
        ("no-such-device", "'no-such-device'"),
        ("DEV-MAIN", "'DEV-MAIN'"),
        ("d" * 100, repr("d" * 64)),
    ],
)
def test_an_unknown_device_is_404(
    shared_server: KurirProcess, http: httpx.Client, path: str, device: str, shown: str
) -> None:
    build = text_body if path == "/send/text" else media_body
    with nothing_stored(shared_server):
        # A rule of the content is checked only for a device that exists.
        response = http.post(path, json=build(device, type="gif"))
    assert_error(response, 404, f"device {shown} not found")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param(
            {"url": 5, "type": 5, "device": "dev-main", "phone": "0811"},
            422,
            "url must be a string",
            id="types first, in the body's order",
        ),
        pytest.param(
            {"device": "nope", "phone": "0811", "url": "ftp://a/b"},
            404,
            "device 'nope' not found",
            id="then the device",
        ),
        pytest.param(
            {"device": "dev-main", "phone": "0811", "url": "ftp://a/b"},
            422,
            "url: scheme must be http or https, not 'ftp'",
            id="then the content, then the phone",
        ),
    ],
)
def test_the_first_fault_is_reported(
    shared_server: KurirProcess,
    http: httpx.Client,
    body: dict[str, object],
    status: int,
    message: str,
) -> None:
    with nothing_stored(shared_server):
        assert_error(http.post("/send/media", json=body), status, message)


def test_the_url_rules_hold_for_a_url_that_is_accepted(
    media_http: httpx.Client, media_tenant: Tenant
) -> None:
    """Names are checked when the file is fetched, against what they resolve to then."""
    for url in ("http://a_b.media.invalid/a.png", "https://media.invalid:8443/a.png"):
        response = media_http.post("/send/media", json=media_body(media_tenant.device_id, url=url))
        assert get_message(media_http, accepted_id(response))["content"]["url"] == url
