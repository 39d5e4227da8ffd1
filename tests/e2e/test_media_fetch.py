"""A media message's file, fetched by a real worker from a web server the test runs.

The server here listens on loopback, so Kurir runs with private URLs allowed,
a short send timeout and quick retries. Private addresses refused while the
file's own server is reachable need a public address on this machine: see
test_media_private_addresses.py.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.contract import (
    JAKARTA,
    accepted_id,
    get_message,
    local_time,
    sandbox_deliveries,
)
from tests.support.databases import DATABASE_KINDS, database_of_kind
from tests.support.gateway import settled, wait_for
from tests.support.origin import (
    Handler,
    Origin,
    Received,
    answer,
    answer_chunked,
    ok,
    redirect,
    served,
)
from tests.support.server import KurirProcess

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"0" * 2048
MB = 1024 * 1024
#: Over WhatsApp's 5 MB for an image, well within its 100 MB for a document.
SIX_MB = b"\0" * (6 * MB)
SEND_TIMEOUT_S = 2
MAX_ATTEMPTS = 3
#: How long a message may take to settle here: every attempt timing out, and the waits.
SETTLE_S = MAX_ATTEMPTS * SEND_TIMEOUT_S + 10


def _status(code: int) -> Handler:
    async def handle(_request: Received, writer: asyncio.StreamWriter) -> None:
        await answer(writer, code)

    return handle


def _failing(times: int, code: int) -> Handler:
    """``code`` for the first ``times`` requests, then the picture."""
    seen = [0]

    async def handle(request: Received, writer: asyncio.StreamWriter) -> None:
        seen[0] += 1
        if seen[0] <= times:
            await answer(writer, code)
        else:
            await ok(PNG, "image/png")(request, writer)

    return handle


def _slow(switch: dict[str, bool]) -> Handler:
    """The picture, held back while ``switch["slow"]`` is set (checked as it waits)."""

    async def handle(request: Received, writer: asyncio.StreamWriter) -> None:
        # Polled: the test flips it from its own thread, which an asyncio.Event is not for.
        while switch["slow"]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await ok(PNG, "image/png")(request, writer)

    return handle


async def _six_mb_unannounced(_request: Received, writer: asyncio.StreamWriter) -> None:
    """6 MB sent as it is made, without a Content-Length: the limit is counted as it streams."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(6 * 16):
            yield b"\0" * (MB // 16)

    await answer_chunked(writer, 200, chunks())


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KurirProcess]:
    """``kurir serve`` that may fetch from loopback, with a short timeout and quick retries."""
    directory = tmp_path_factory.mktemp("media")
    with ExitStack() as stack:
        url = stack.enter_context(database_of_kind(request.param, directory))
        env = {
            "KURIR_ALLOW_PRIVATE_URLS": "true",
            "KURIR_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT_S),
            "KURIR_RETRY_BASE_SECONDS": "0.3",
            "KURIR_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        }
        process = KurirProcess(url, directory, env=env).start()
        stack.callback(process.stop)
        yield process


@pytest.fixture(scope="module")
def http(server: KurirProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def slow_then_fast(server: KurirProcess) -> dict[str, bool]:
    """Whether /slow-then-fast.png still keeps its answer back; one switch per server."""
    return {"slow": True}


@pytest.fixture(scope="module")
def origin(server: KurirProcess, slow_then_fast: dict[str, bool]) -> Iterator[Origin]:
    """The files' server, started again for each Kurir server: some handlers keep count."""
    routes: dict[str, Handler] = {
        "/photo.png": ok(PNG, "image/png; charset=binary"),
        "/invoice.pdf": ok(PDF, "application/pdf"),
        "/archive.zip": ok(b"PK\x03\x04" + bytes(100), "application/zip"),
        "/page.html": ok(b"<html></html>", "text/html; charset=utf-8"),
        "/song.mp3": ok(b"ID3" + bytes(100), "audio/mpeg"),
        "/old.png": redirect("/photo.png"),
        "/forbidden.png": _status(403),
        "/gone.png": _status(410),
        "/flaky.png": _failing(1, 503),
        "/down.png": _status(500),
        "/slow-then-fast.png": _slow(slow_then_fast),
        "/always-slow.png": _slow({"slow": True}),
        "/six-mb.png": ok(SIX_MB, "image/png"),
        "/six-mb.pdf": ok(SIX_MB, "application/pdf"),
        "/six-mb-streamed.png": _six_mb_unannounced,
    }
    with served(routes) as running:
        yield running


def _send(http: httpx.Client, server: KurirProcess, url: str, **fields: object) -> str:
    body = {"device": server.device_id, "phone": "08111111111", "url": url, **fields}
    return accepted_id(http.post("/send/media", json=body))


def _delivery(http: httpx.Client, server: KurirProcess, message_id: str) -> dict[str, Any] | None:
    found = [
        item
        for item in sandbox_deliveries(http, server.device_id)
        if item["message_id"] == message_id
    ]
    return found[0] if found else None


def _paths(origin: Origin) -> list[str]:
    return [request.path for request in origin.received]


# -- delivered ----------------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [None, "image"])
def test_an_image_is_fetched_and_delivered_as_an_image(
    server: KurirProcess, http: httpx.Client, origin: Origin, declared: str | None
) -> None:
    url = origin.url("/photo.png")
    fields = {"type": declared} if declared else {}
    message_id = _send(http, server, url, **fields, caption="Foto produk")
    data = settled(http, message_id, timeout=SETTLE_S)
    assert (data["status"], data["type"], data["last_error"]) == ("delivered", "media", None)
    # The message shows what was asked for; the sandbox, what WhatsApp would show.
    assert data["content"] == {"url": url, **fields, "caption": "Foto produk"}
    delivery = _delivery(http, server, message_id)
    assert delivery is not None
    assert delivery["type"] == "media"
    assert delivery["content"] == {"url": url, "type": "image", "caption": "Foto produk"}
    request = next(r for r in origin.received if r.path == "/photo.png")
    assert (request.method, request.headers["user-agent"]) == ("GET", "Kurir")
    assert request.headers["accept-encoding"] == "identity"


def test_a_document_keeps_its_filename_and_caption(
    server: KurirProcess, http: httpx.Client, origin: Origin
) -> None:
    url = origin.url("/invoice.pdf")
    message_id = _send(
        http, server, url, type="document", filename="invoice-0042.pdf", caption="Invoice 0042"
    )
    assert settled(http, message_id, timeout=SETTLE_S)["status"] == "delivered"
    delivery = _delivery(http, server, message_id)
    assert delivery is not None
    assert delivery["content"] == {
        "url": url,
        "type": "document",
        "caption": "Invoice 0042",
        "filename": "invoice-0042.pdf",
    }


@pytest.mark.parametrize(
    ("path", "declared", "shown"),
    [
        ("/invoice.pdf", None, "document"),  # a PDF is a document by its type
        ("/archive.zip", "document", "document"),  # any file, when said to be one
        ("/song.mp3", None, "audio"),
        ("/old.png", None, "image"),  # after a redirect
    ],
)
def test_the_file_decides_what_it_is_sent_as(
    server: KurirProcess,
    http: httpx.Client,
    origin: Origin,
    path: str,
    declared: str | None,
    shown: str,
) -> None:
    fields = {"type": declared} if declared else {}
    message_id = _send(http, server, origin.url(path), **fields)
    assert settled(http, message_id, timeout=SETTLE_S)["status"] == "delivered"
    delivery = _delivery(http, server, message_id)
    assert delivery is not None
    assert delivery["content"]["type"] == shown
    assert delivery["content"]["url"] == origin.url(path)


def test_the_file_is_fetched_when_the_message_is_sent(
    server: KurirProcess, http: httpx.Client, origin: Origin
) -> None:
    """Not when it is accepted: a file changed meanwhile goes out as it is then."""
    url = origin.url("/invoice.pdf?scheduled")
    due = datetime.now(JAKARTA) + timedelta(seconds=3)
    message_id = _send(http, server, url, schedule=local_time(due))
    assert "/invoice.pdf?scheduled" not in _paths(origin)
    data = settled(http, message_id, timeout=SETTLE_S + 3)
    assert data["status"] == "delivered"
    assert _paths(origin).count("/invoice.pdf?scheduled") == 1
    assert datetime.fromisoformat(data["timestamps"]["sending"]) >= due.replace(microsecond=0)


# -- failed at once: fetching again would fetch the same ------------------------------------------


def _failed_at_once(http: httpx.Client, server: KurirProcess, message_id: str) -> str:
    data = settled(http, message_id, timeout=SETTLE_S)
    assert (data["status"], data["attempts"]) == ("failed", 1), data
    assert "failed" in data["timestamps"]
    assert _delivery(http, server, message_id) is None
    error: str = data["last_error"]
    return error


@pytest.mark.parametrize("path", ["/missing.png", "/forbidden.png", "/gone.png"])
def test_a_4xx_fails_the_message_with_the_status(
    server: KurirProcess, http: httpx.Client, origin: Origin, path: str
) -> None:
    code = {"/missing.png": 404, "/forbidden.png": 403, "/gone.png": 410}[path]
    message_id = _send(http, server, origin.url(path))
    assert _failed_at_once(http, server, message_id) == f"media: {origin.url(path)} answered {code}"
    assert _paths(origin).count(path) >= 1


def test_the_reason_shows_the_url_without_credentials_or_query(
    server: KurirProcess, http: httpx.Client, origin: Origin
) -> None:
    url = f"http://user:s3cret@127.0.0.1:{origin.port}/missing.png?token=s3cret"
    message_id = _send(http, server, url)
    error = _failed_at_once(http, server, message_id)
    assert error == f"media: http://127.0.0.1:{origin.port}/missing.png answered 404"
    assert "s3cret" not in error


@pytest.mark.parametrize(
    ("path", "fields", "reason"),
    [
        (
            "/page.html",
            {"type": "image"},
            "the file's content type text/html is not a supported image",
        ),
        (
            "/page.html",
            {},
            "the file's content type text/html is not one WhatsApp sends; "
            "set type to document to send it as a file",
        ),
        (
            "/invoice.pdf",
            {"type": "video"},
            "the file's content type application/pdf is not a supported video",
        ),
        ("/song.mp3", {"caption": "Dengar"}, "WhatsApp shows no caption on audio messages"),
    ],
)
def test_a_file_of_the_wrong_type_fails_the_message(
    server: KurirProcess,
    http: httpx.Client,
    origin: Origin,
    path: str,
    fields: dict[str, str],
    reason: str,
) -> None:
    message_id = _send(http, server, origin.url(path), **fields)
    assert _failed_at_once(http, server, message_id) == f"media: {reason}"


@pytest.mark.parametrize(
    ("path", "fields", "reason"),
    [
        # Announced by Content-Length: refused before a byte of the body is read.
        (
            "/six-mb.png",
            {"type": "image"},
            "the body is 6291456 bytes, over the limit of 5242880 bytes",
        ),
        # Streamed without a length: refused once the count passes the limit.
        ("/six-mb-streamed.png", {"type": "image"}, "the body is over the limit of 5242880 bytes"),
    ],
)
def test_a_file_over_its_types_limit_fails_naming_the_limit(
    server: KurirProcess,
    http: httpx.Client,
    origin: Origin,
    path: str,
    fields: dict[str, str],
    reason: str,
) -> None:
    url = origin.url(path)
    message_id = _send(http, server, url, **fields)
    assert _failed_at_once(http, server, message_id) == f"media: {url}: {reason}"


def test_the_limit_is_the_type_the_file_turns_out_to_be(
    server: KurirProcess, http: httpx.Client, origin: Origin
) -> None:
    """Without a type, the file is read up to the largest limit, then held to its own."""
    image = _send(http, server, origin.url("/six-mb.png"))
    document = _send(http, server, origin.url("/six-mb.pdf"))
    assert _failed_at_once(http, server, image) == (
        "media: the image is 6291456 bytes; WhatsApp takes at most 5242880"
    )
    assert settled(http, document, timeout=SETTLE_S)["status"] == "delivered"


# -- retried: the server may answer better later -------------------------------------------------


def test_a_5xx_is_retried(server: KurirProcess, http: httpx.Client, origin: Origin) -> None:
    flaky = _send(http, server, origin.url("/flaky.png"))
    down = _send(http, server, origin.url("/down.png"))
    delivered = settled(http, flaky, timeout=SETTLE_S)
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 2)
    assert delivered["last_error"] is None
    gave_up = settled(http, down, timeout=SETTLE_S)
    assert (gave_up["status"], gave_up["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert gave_up["last_error"] == (
        f"gave up after {MAX_ATTEMPTS} attempts: media: {origin.url('/down.png')} answered 500"
    )
    assert _paths(origin).count("/down.png") == MAX_ATTEMPTS


def test_a_server_slower_than_the_send_timeout_is_retried_until_it_answers_in_time(
    server: KurirProcess, http: httpx.Client, origin: Origin, slow_then_fast: dict[str, bool]
) -> None:
    url = origin.url("/slow-then-fast.png")
    message_id = _send(http, server, url)
    timed_out = f"media: {url}: no complete answer within {SEND_TIMEOUT_S} s"

    def first_failure() -> dict[str, Any] | None:
        data = get_message(http, message_id)
        return data if data["last_error"] is not None else None

    waiting = wait_for(first_failure, timeout=SETTLE_S, what="the first timeout")
    assert (waiting["last_error"], waiting["status"]) == (timed_out, "queued")
    slow_then_fast["slow"] = False
    delivered = settled(http, message_id, timeout=SETTLE_S)
    assert delivered["status"] == "delivered"
    assert delivered["attempts"] >= 2
    assert _delivery(http, server, message_id) is not None


def test_a_server_that_stays_slow_fails_the_message_in_the_end(
    server: KurirProcess, http: httpx.Client, origin: Origin
) -> None:
    url = origin.url("/always-slow.png")
    message_id = _send(http, server, url)
    data = settled(http, message_id, timeout=SETTLE_S)
    assert (data["status"], data["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert data["last_error"] == (
        f"gave up after {MAX_ATTEMPTS} attempts: "
        f"media: {url}: no complete answer within {SEND_TIMEOUT_S} s"
    )
    assert _delivery(http, server, message_id) is None
