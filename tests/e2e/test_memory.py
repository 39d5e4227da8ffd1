"""A flood of unknown, very long names does not grow the server's memory.

Each would once have been kept: a device id in the lookup cache (9,000
requests with 30 KB ids grew a server from 150 to 377 MB, never given back),
a phone number in the normalisation cache. The server's resident size is read
from /proc while a few thousand such requests go in.
"""

import secrets
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.contract import button_body
from tests.support.databases import sqlite_url
from tests.support.server import KurirProcess

LONG = 30_000
#: An id in the path, where the request head's limit leaves room for about this much.
PATH_ID = 15_000
#: Well under what the requests below held before ids and phones were capped (about 145 MB).
MAX_GROWTH_MB = 25


def _rss_mb(server: KurirProcess) -> float:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


def _long_id() -> str:
    return secrets.token_hex(LONG // 2)


def _unknown_device_in_body(http: httpx.Client, device: str) -> httpx.Response:
    return http.post("/send/button", json=button_body(_long_id()))


def _unknown_device_in_path(http: httpx.Client, device: str) -> httpx.Response:
    # As long as a request head may be (KURIR_MAX_HEADER_BYTES, 16 KiB): longer is a 431.
    return http.get(f"/sandbox/{secrets.token_hex(PATH_ID // 2)}/messages")


def _long_phone(http: httpx.Client, device: str) -> httpx.Response:
    phone = f"{secrets.randbelow(10**20):020d}" + "0" * LONG  # distinct, and cheap to make
    return http.post("/send/button", json=button_body(device, phone=phone))


def test_long_unknown_ids_and_phones_are_not_kept(tmp_path: Path) -> None:
    server = KurirProcess(sqlite_url(tmp_path), tmp_path).start()
    try:
        with server.client() as http:
            floods: list[tuple[Callable[[httpx.Client, str], httpx.Response], int, int]] = [
                (_unknown_device_in_body, 3000, 404),
                (_unknown_device_in_path, 300, 404),  # Starlette's routing of 30 KB paths is slow
                (_long_phone, 1000, 422),
            ]
            # Warm up first: the first requests of each kind allocate what stays anyway.
            for request, _, status in floods:
                for _ in range(50):
                    assert request(http, server.device_id).status_code == status
            before = _rss_mb(server)
            for request, count, status in floods:
                for _ in range(count):
                    assert request(http, server.device_id).status_code == status
            after = _rss_mb(server)
    finally:
        server.stop()
    assert after - before < MAX_GROWTH_MB, f"RSS grew from {before:.0f} MB to {after:.0f} MB"
