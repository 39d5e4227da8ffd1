"""KURIR_RATE_LIMIT_PER_SECOND: sends beyond it are refused with 429 and Retry-After."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.contract import accepted_id, assert_error, nothing_stored, send
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess


@pytest.fixture
def limited(sqlite_database_url: str, tmp_path: Path) -> Iterator[KurirProcess]:
    """A server admitting two sends a second per account (the limit is per process, not
    per database, so SQLite alone is enough)."""
    process = KurirProcess(
        sqlite_database_url, tmp_path, env={"KURIR_RATE_LIMIT_PER_SECOND": "2"}
    ).start()
    try:
        yield process
    finally:
        process.stop()


def test_sends_beyond_the_rate_are_refused_until_it_refills(limited: KurirProcess) -> None:
    other = provision_tenant(limited.database_url)
    with limited.client() as http, limited.client(other.api_key) as other_http:
        # A burst of one second's worth passes.
        accepted_id(send(http, limited.device_id))
        accepted_id(send(http, limited.device_id))
        refused_at = time.monotonic()
        with nothing_stored(limited):
            response = send(http, limited.device_id)
        assert_error(response, 429, "Rate limit exceeded; slow down")
        assert response.headers["retry-after"] == "1"

        # The limit is per account: another account is not slowed by this one.
        accepted_id(send(other_http, other.device_id))

        # Reading is not limited.
        assert http.get("/device/list").status_code == 200

        # At two a second, a new send is admitted within half a second.
        deadline = refused_at + 1.0
        while (response := send(http, limited.device_id)).status_code == 429:
            assert time.monotonic() < deadline, "the rate never refilled"
            time.sleep(0.05)
        accepted_id(response)
        assert time.monotonic() - refused_at >= 0.2
