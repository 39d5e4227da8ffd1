"""What an unauthenticated client can no longer do to ``kurir serve`` (see kurir.http_guard).

Silent or dribbling connections are closed at the head deadline, connections
over the ceiling are refused at once while established ones go on, heads over
the limits get 431 in the API's shape, a body dribbled after an early answer
holds nothing open, and each kind of refusal is logged at most once per
window, with a count. Every server here has a short deadline set, so that the
tests stay short; all traffic stays on loopback.
"""

import contextlib
import json
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import KurirProcess

TIMEOUT_S = 1.0
#: The deadline is kept by a sweep every quarter of it; the rest is room for a loaded machine.
CLOSE_WITHIN_S = TIMEOUT_S * 1.25 + 3.0
FLOOD = 3000


def guarded_server(database_url: str, log_dir: Path, **settings: str) -> KurirProcess:
    env = {f"KURIR_{name.upper()}": value for name, value in settings.items()}
    # The refusals are logged as warnings, the level the test servers run at.
    return KurirProcess(database_url, log_dir, env=env).start()


@pytest.fixture
def server(sqlite_database_url: str, tmp_path: Path) -> Iterator[KurirProcess]:
    """A server with a one-second head deadline and room for the flood below."""
    process = guarded_server(
        sqlite_database_url,
        tmp_path,
        header_timeout_seconds=str(TIMEOUT_S),
        max_connections=str(FLOOD + 500),
    )
    try:
        yield process
    finally:
        process.stop()


def connect(server: KurirProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """Whether the server closed ``sock`` (EOF or reset) within the time, having sent nothing."""
    sock.settimeout(within_s)
    try:
        data = sock.recv(1)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    assert data == b"", f"the server answered {data!r} on a connection it should have closed"
    return True


def exchange(server: KurirProcess, *parts: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``parts`` on a new connection, as far as the server takes them; the status,
    headers and body of its answer, read up to the close the server must have made."""
    with connect(server) as sock:
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):  # refused before the end
            pass
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return parse(received)


def parse(received: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    return int(status_line.split()[1]), headers, body


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One answer on a kept-alive connection (it has a Content-Length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    status, headers, body = parse(received)
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return status, headers, body


def head_with(headers: list[str]) -> bytes:
    lines = ["GET /healthz HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def resident_bytes(server: KurirProcess) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def warnings_about(server: KurirProcess, words: str) -> list[str]:
    """The server's log lines about refusals that mention ``words``."""
    return [line for line in server.log().splitlines() if "kurir.http" in line and words in line]


def raise_descriptor_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the flood needs {wanted} descriptors; this process may open only {hard}")
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def test_silent_connections_are_closed_at_the_deadline_and_others_are_served_meanwhile(
    server: KurirProcess,
) -> None:
    raise_descriptor_limit(FLOOD + 200)
    opened_at = time.monotonic()
    silent = [connect(server) for _ in range(FLOOD)]
    all_open_at = time.monotonic()
    try:
        # New clients are served normally while the flood holds its sockets.
        for _ in range(10):
            started = time.monotonic()
            assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
            assert time.monotonic() - started < 2.0

        selector = selectors.DefaultSelector()
        for sock in silent:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        open_ones = set(silent)
        first_close = None
        deadline = all_open_at + CLOSE_WITHIN_S
        while open_ones and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                closed = key.fileobj
                assert isinstance(closed, socket.socket)
                with contextlib.suppress(ConnectionResetError):
                    assert closed.recv(1) == b"", "answered a connection that sent nothing"
                first_close = first_close or time.monotonic()
                selector.unregister(closed)
                open_ones.discard(closed)
        selector.close()
        assert not open_ones, f"{len(open_ones)} of {FLOOD} silent connections are still open"
        assert first_close is not None
        assert first_close - opened_at >= TIMEOUT_S - 0.05, "closed before the deadline"
    finally:
        for sock in silent:
            sock.close()

    # The flood was logged, once: the refusals of one window share a line, with their count.
    lines = warnings_about(server, "KURIR_HEADER_TIMEOUT_SECONDS")
    assert len(lines) == 1, lines
    count = int(lines[0].rsplit(": ", 1)[1].split()[0])
    assert 1 <= count <= FLOOD
    # The server is still fine.
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("after_a_request", [False, True])
def test_a_dribbled_head_is_cut_off_at_the_deadline(
    server: KurirProcess, after_a_request: bool
) -> None:
    head = head_with(["X-Slow: " + "x" * 40])
    with connect(server) as sock:
        if after_a_request:
            # The deadline holds for every request on a keep-alive connection, not just the first.
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert read_response(sock)[0] == 200
        started = time.monotonic()
        cut = False
        # One byte every 0.1 s: the head would take 8 s to arrive.
        for byte in head:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            if closed_by_server(sock, within_s=0.1):
                cut = True
                break
        elapsed = time.monotonic() - started
    assert cut, "the whole head was dribbled in"
    assert TIMEOUT_S - 0.05 <= elapsed <= CLOSE_WITHIN_S


def test_a_head_over_the_size_limit_gets_431_and_the_connection_is_closed(
    server: KurirProcess,
) -> None:
    status, headers, body = exchange(server, head_with(["X-Big: " + "a" * 16 * 1024]))
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {
        "status": "error",
        "message": "Request headers larger than 16384 bytes",
    }
    # Many headers that are small one by one count together.
    status, _, body = exchange(server, head_with([f"X-{n}: {'b' * 300}" for n in range(60)]))
    assert (status, json.loads(body)["message"]) == (431, "Request headers larger than 16384 bytes")
    # A head just under the limit is served.
    status, _, _ = exchange(server, head_with(["X-Big: " + "a" * 15 * 1024]))
    assert status == 200
    # 50 MB of one header were once read whole (doubling the server's memory)
    # and answered 200; now the connection ends after a few MB at most.
    memory_before = resident_bytes(server)
    sent = 0
    with connect(server) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
            for _ in range(800):
                sock.sendall(b"a" * 64 * 1024)
                sent += 64 * 1024
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert sent < 16 * 1024 * 1024
    assert resident_bytes(server) - memory_before < 16 * 1024 * 1024
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200

    # Four refusals, one line: the first is logged at once, the rest counted for the next.
    lines = warnings_about(server, "KURIR_MAX_HEADER_BYTES")
    assert len(lines) == 1, lines
    assert lines[0].endswith(": 1 in the last 10 s")


def test_more_headers_than_the_limit_get_431(server: KurirProcess) -> None:
    # head_with adds Host and Connection.
    status, headers, body = exchange(server, head_with([f"X-{n}: 1" for n in range(99)]))
    assert status == 431
    assert headers["connection"] == "close"
    assert json.loads(body) == {"status": "error", "message": "More than 100 request headers"}
    status, _, _ = exchange(server, head_with([f"X-{n}: 1" for n in range(98)]))
    assert status == 200
    # 100,000 headers (once accepted) are refused before they have all arrived.
    status, _, _ = exchange(server, head_with([f"X-{n}: 1" for n in range(100_000)]))
    assert status == 431

    lines = warnings_about(server, "KURIR_MAX_HEADERS")
    assert len(lines) == 1, lines


def test_an_answer_before_the_body_has_come_ends_the_connection(server: KurirProcess) -> None:
    # Refused (no key) before its body is read: the rest of the body, dribbled
    # a byte at a time, no longer holds the connection open.
    with connect(server) as sock:
        sock.sendall(
            b"POST /send/button HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        )
        status, _, body = read_response(sock)
        assert (status, json.loads(body)["status"]) == (401, "error")
        started = time.monotonic()
        ended = False
        while not ended and time.monotonic() - started < CLOSE_WITHIN_S:
            try:
                sock.send(b" ")
                ended = closed_by_server(sock, within_s=0.2)
            except (BrokenPipeError, ConnectionResetError):
                ended = True
    assert ended, "the connection stayed open while the body trickled in"


def test_malformed_and_upgrade_requests_end_their_connection(server: KurirProcess) -> None:
    for _ in range(20):
        status, headers, body = exchange(server, b"\x00\x01 not HTTP\r\n\r\n")
        assert (status, json.loads(body)) == (
            400,
            {"status": "error", "message": "Invalid HTTP request"},
        )
        assert headers["content-type"] == "application/json"
    # uvicorn logged each of these; a client sending garbage no longer floods the log.
    lines = warnings_about(server, "malformed")
    assert len(lines) == 1, lines

    # Kurir has no WebSocket endpoint: an upgrade is answered as plain HTTP, then closed.
    upgrade = [
        "GET /healthz HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: keep-alive, Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]
    status, _, body = exchange(server, ("\r\n".join(upgrade) + "\r\n\r\n").encode())
    assert (status, json.loads(body)["status"]) == (200, "ok")


def test_connections_over_the_ceiling_are_refused_at_once_while_established_ones_go_on(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    ceiling = 20
    server = guarded_server(sqlite_database_url, tmp_path, max_connections=str(ceiling))
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as established:
            assert established.get("/healthz").status_code == 200
            # With the established client, the ceiling is reached after ceiling - 1 more.
            held = [connect(server) for _ in range(ceiling - 1)]
            try:
                refused = [connect(server) for _ in range(10)]
                started = time.monotonic()
                for sock in refused:
                    # Refused at once: the head deadline (5 s by default) plays no part.
                    assert closed_by_server(sock, within_s=2.0)
                    sock.close()
                assert time.monotonic() - started < 2.0
                assert not any(closed_by_server(sock, within_s=0.01) for sock in held)

                # The established client is served on its own connection all along.
                for _ in range(5):
                    assert established.get("/healthz").status_code == 200
                assert established.get("/device/list", headers=auth(server)).status_code == 200
            finally:
                for sock in held:
                    sock.close()

        # Once they are gone there is room again.
        deadline = time.monotonic() + 5
        while True:
            try:
                assert httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "no room after the connections closed"
                time.sleep(0.05)

        lines = warnings_about(server, "KURIR_MAX_CONNECTIONS")
        assert len(lines) == 1, lines
        assert f"over {ceiling} open" in lines[0]
    finally:
        server.stop()


def auth(server: KurirProcess) -> dict[str, str]:
    return {"Authorization": server.api_key}
