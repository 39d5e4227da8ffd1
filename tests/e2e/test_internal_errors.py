"""A 500, when one happens after all: logged once, under an id the client is given too.

Nothing a client sends may cause one; what does is the server's own state. Here
that is a database edited behind Kurir's back: a message whose stored content
is no longer JSON, a device whose transport this build does not know. Both are
asked for through a real server, on each of its two ways in: Starlette's router
(GET /message) and the fast path of POST /send/button.
"""

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.contract import JAKARTA, accepted_id, button_body, local_time
from tests.support.databases import sqlite_url
from tests.support.provision import add_sandbox_devices
from tests.support.server import KurirProcess

#: The bootstrap account's id on a fresh database.
ACCOUNT_ID = 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KurirProcess]:
    # Without the dispatcher, which would log the broken device of its own accord.
    process = KurirProcess(sqlite_url(tmp_path), tmp_path, args=("--no-dispatch",)).start()
    try:
        yield process
    finally:
        process.stop()


def _edit(server: KurirProcess, statement: str, *values: str) -> None:
    database = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        assert connection.execute(statement, values).rowcount == 1


def _request_id(response: httpx.Response) -> str:
    """The id of a 500, after checking the answer has the error shape and names it."""
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    assert response.status_code == 500
    assert response.json() == {
        "status": "error",
        "message": f"Internal error (request id {request_id})",
    }
    return request_id


def test_a_500_is_logged_once_with_the_id_the_client_gets(server: KurirProcess) -> None:
    [broken_device] = add_sandbox_devices(server.database_url, ACCOUNT_ID, 1, prefix="broken")
    _edit(server, "UPDATE devices SET transport = 'pigeon' WHERE public_id = ?", broken_device)
    with server.client() as http:
        later = local_time(datetime.now(JAKARTA) + timedelta(hours=1))
        message_id = accepted_id(
            http.post("/send/button", json=button_body(server.device_id, schedule=later))
        )
        _edit(server, "UPDATE messages SET content = '{' WHERE message_id = ?", message_id)

        through_router = _request_id(http.get(f"/message/{message_id}"))
        through_fast_path = _request_id(http.post("/send/button", json=button_body(broken_device)))
        assert through_router != through_fast_path
        assert http.get("/healthz").status_code == 200  # and it goes on serving

    log = server.log()
    assert log.count("Traceback") == 2, log
    assert "Exception in ASGI application" not in log  # uvicorn's second report, once
    for request_id, request in [
        (through_router, f"GET '/message/{message_id}'"),
        (through_fast_path, "POST '/send/button'"),
    ]:
        [line] = [line for line in log.splitlines() if request_id in line]
        assert line.endswith(f"ERROR kurir.api: unexpected error, request {request_id}: {request}")
