"""Talking to a running gateway in dispatch tests: send, look, and wait with a deadline."""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.server import KurirProcess

T = TypeVar("T")

#: Statuses after which nothing more happens to a sandbox message by itself.
SETTLED = {"delivered", "read", "failed", "cancelled"}


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def running(database_url: str, log_dir: Path, **env: str) -> Iterator[KurirProcess]:
    """``kurir serve`` with extra ``KURIR_*`` settings, stopped on exit."""
    process = KurirProcess(database_url, log_dir, env=env).start()
    try:
        yield process
    finally:
        process.stop()


def button_body(device: str, message: str, **extra: str) -> dict[str, Any]:
    return {
        "device": device,
        "phone": "628111111111",
        "message_header": "Header",
        "message": message,
        "message_footer": "Footer",
        "buttons": ["Ya", "Tidak"],
        **extra,
    }


def send(http: httpx.Client, device: str, message: str, **extra: str) -> str:
    """POST /send/button; the message id of a 200 answer."""
    response = http.post("/send/button", json=button_body(device, message, **extra))
    assert response.status_code == 200, response.text
    message_id: str = response.json()["message_id"]
    return message_id


def message(http: httpx.Client, message_id: str) -> dict[str, Any]:
    response = http.get(f"/message/{message_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def settled(http: httpx.Client, message_id: str, *, timeout: float) -> dict[str, Any]:
    """The message once it is delivered, failed or cancelled."""

    def check() -> dict[str, Any] | None:
        data = message(http, message_id)
        return data if data["status"] in SETTLED else None

    return wait_for(check, timeout=timeout, what=f"message {message_id} to settle")


def deliveries(http: httpx.Client, device: str) -> list[dict[str, Any]]:
    """What the sandbox delivered for ``device``, oldest first."""
    response = http.get(f"/sandbox/{device}/messages", params={"limit": 500})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found[::-1]


def delivered(
    http: httpx.Client, device: str, count: int, *, timeout: float
) -> list[dict[str, Any]]:
    """The sandbox's deliveries for ``device`` once there are at least ``count``."""

    def check() -> list[dict[str, Any]] | None:
        found = deliveries(http, device)
        return found if len(found) >= count else None

    return wait_for(check, timeout=timeout, what=f"{count} deliveries for {device}")


def at(timestamp: str) -> datetime:
    """A timestamp the API wrote (ISO 8601 with the zone's offset)."""
    return datetime.fromisoformat(timestamp)


def cpu_seconds(process: KurirProcess) -> float:
    """CPU time (user + system) the server process has used so far, from /proc."""
    assert process.process is not None
    fields = Path(f"/proc/{process.process.pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
