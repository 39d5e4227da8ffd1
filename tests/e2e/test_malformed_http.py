"""Bytes that are not an HTTP request, on a real server: refused before the application.

They never reach Kurir's handlers; the guarded HTTP protocol (kurir.http_guard)
answers them with a 400 in the API's error shape, as the README says, and
closes the connection. Nothing is stored, and the server goes on serving.
"""

import socket

import pytest

from tests.e2e.contract import nothing_stored
from tests.support.server import KurirProcess

GUARD_400 = (
    b"HTTP/1.1 400 Bad Request\r\n",
    b"content-type: application/json\r\n",
    b"connection: close\r\n",
    b'\r\n\r\n{"status":"error","message":"Invalid HTTP request"}',
)


def _exchange(server: KurirProcess, sent: bytes) -> bytes:
    """Everything the server answers to ``sent`` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(sent)
        answer = b""
        while chunk := connection.recv(4096):  # "" once the server has closed it
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="not a request line"),
        pytest.param(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", id="TLS on the HTTP port"),
        pytest.param(b"POST /send/button HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", id="bad header"),
        pytest.param(
            b"POST /send/button HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
            id="bad Content-Length",
        ),
    ],
)
def test_the_server_answers_400_in_the_error_shape(
    shared_server: KurirProcess, sent: bytes
) -> None:
    with nothing_stored(shared_server):
        answer = _exchange(shared_server, sent)
    for part in GUARD_400:
        assert part in answer, answer
    with shared_server.client() as http:
        assert http.get("/healthz").status_code == 200
