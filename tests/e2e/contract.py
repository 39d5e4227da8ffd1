"""Helpers for the HTTP contract tests: requests as clients send them, and what to expect.

Everything here talks to a real ``kurir serve`` over loopback; the only other
look is a read of the database through ``kurir.store``, to prove that a
refused request stored nothing and that an accepted one was stored before the
answer came.
"""

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from http.client import HTTPConnection
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store import Store
from kurir.store.tables import messages
from tests.e2e.test_smoke import SEED_BODY
from tests.support.server import KurirProcess

JAKARTA: Final = ZoneInfo("Asia/Jakarta")
#: The recipient of the seed's examples, as every spelling of it normalises.
RECIPIENT: Final = "628111111111"
#: How long a message sent "now" may take to reach the sandbox in these tests.
DELIVERY_TIMEOUT_S: Final = 5.0


class _Omit:
    """Marks a field to leave out of a request body."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()


def button_body(device: str, /, **changes: object) -> dict[str, object]:
    """The seed's request body for ``device``; ``changes`` replace fields, OMIT drops them."""
    body: dict[str, object] = {**SEED_BODY, "device": device, **changes}
    return {name: value for name, value in body.items() if value is not OMIT}


def send(http: httpx.Client, device: str, /, **changes: object) -> httpx.Response:
    return http.post("/send/button", json=button_body(device, **changes))


#: A file no worker ever fetches: ``.invalid`` never resolves (RFC 2606).
UNREACHABLE_URL: Final = "https://media.invalid/invoice-0042.pdf"
TEXT_BODY: Final = {"phone": "08111111111", "message": "Halo, pesanan Anda sudah dikirim."}
MEDIA_BODY: Final = {
    "phone": "08111111111",
    "url": UNREACHABLE_URL,
    "type": "document",
    "caption": "Invoice 0042",
    "filename": "invoice-0042.pdf",
}


def text_body(device: str, /, **changes: object) -> dict[str, object]:
    """A /send/text body for ``device``; ``changes`` replace fields, OMIT drops them."""
    body: dict[str, object] = {"device": device, **TEXT_BODY, **changes}
    return {name: value for name, value in body.items() if value is not OMIT}


def media_body(device: str, /, **changes: object) -> dict[str, object]:
    """A /send/media body for ``device``; ``changes`` replace fields, OMIT drops them."""
    body: dict[str, object] = {"device": device, **MEDIA_BODY, **changes}
    return {name: value for name, value in body.items() if value is not OMIT}


def send_text(http: httpx.Client, device: str, /, **changes: object) -> httpx.Response:
    return http.post("/send/text", json=text_body(device, **changes))


def send_media(http: httpx.Client, device: str, /, **changes: object) -> httpx.Response:
    return http.post("/send/media", json=media_body(device, **changes))


#: How clients encode a body: JSON as PHP's json_encode (and Node) writes it, JSON
#: pretty-printed (PHP's JSON_PRETTY_PRINT, Python's indent=4), and PHP's forms.
BODY_STYLES: Final = ("json", "pretty", "urlencoded", "multipart")


def post_body(
    http: httpx.Client, path: str, style: str, body: Mapping[str, object]
) -> httpx.Response:
    """POST ``body`` to ``path`` as a client of ``style`` sends it.

    In a form every value is text, as PHP's http_build_query and cURL's
    array of fields make it.
    """
    if style == "json":
        return http.post(
            path,
            content=json.dumps(body, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json"},
        )
    if style == "pretty":
        return http.post(
            path,
            content=json.dumps(body, indent=4).encode() + b"\n",
            headers={"Content-Type": "application/json"},
        )
    pairs = [(name, str(value)) for name, value in body.items()]
    if style == "urlencoded":
        return http.post(
            path,
            content=urlencode(pairs).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert style == "multipart", style
    # (None, value): a plain form field, not a file upload.
    return http.post(path, files=[(name, (None, value)) for name, value in pairs])


def accepted_id(response: httpx.Response) -> str:
    """The message id of a successful send, after checking it succeeded."""
    assert response.status_code == 200, response.text
    message_id: str = response.json()["message_id"]
    return message_id


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    """The one error shape every failure has, with its exact status and message."""
    assert (response.status_code, response.json()) == (
        status,
        {"status": "error", "message": message},
    )
    assert response.headers["content-type"] == "application/json"


def get_message(http: httpx.Client, message_id: str) -> dict[str, Any]:
    response = http.get(f"/message/{message_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def wait_for_status(
    http: httpx.Client, message_id: str, *statuses: str, timeout: float = DELIVERY_TIMEOUT_S
) -> dict[str, Any]:
    """Poll GET /message until the message reaches one of ``statuses``; its data then."""
    deadline = time.monotonic() + timeout
    while True:
        data = get_message(http, message_id)
        if data["status"] in statuses:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(
                f"message {message_id} is {data['status']} after {timeout}s, wanted {statuses}"
            )
        time.sleep(0.02)


def sandbox_deliveries(http: httpx.Client, device: str) -> list[dict[str, Any]]:
    """What the sandbox delivered for ``device``, newest first."""
    response = http.get(f"/sandbox/{device}/messages", params={"limit": 500})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def deliveries_of(http: httpx.Client, device: str, message_id: str) -> int:
    """How many times the sandbox delivered one message."""
    return sum(item["message_id"] == message_id for item in sandbox_deliveries(http, device))


def local_time(moment: datetime) -> str:
    """``moment`` as PHP's ``Y-m-d H:i:s`` in Jakarta, the form Alat WA clients send."""
    return moment.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _message_ids(connection: Connection) -> set[str]:
    return set(connection.execute(sa.select(messages.c.message_id)).scalars())


def stored_message_ids(database_url: str) -> set[str]:
    """Every message id in the database, read through kurir.store."""

    async def read() -> set[str]:
        store = Store(database_url, pool_size=1)
        try:
            return await store.read(_message_ids)
        finally:
            await store.close()

    return asyncio.run(read())


@contextmanager
def nothing_stored(server: KurirProcess) -> Iterator[None]:
    """Assert that the requests made inside the block added no message to the database."""
    before = stored_message_ids(server.database_url)
    yield
    assert stored_message_ids(server.database_url) - before == set()


def post_raw(
    server: KurirProcess, path: str, headers: dict[str, str], body: bytes
) -> httpx.Response:
    """POST exactly these headers and bytes; the answer as an httpx.Response.

    httpx refuses header values with surrounding whitespace, which is just what
    hand-written client code (and the seed's own examples) send.
    """
    connection = HTTPConnection(httpx.URL(server.base_url).host, server.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        answer = connection.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    finally:
        connection.close()
