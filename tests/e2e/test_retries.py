"""Send failures against a real server: transient ones retry with backoff, permanent ones fail.

The sandbox plays a troubled WhatsApp account per device (``fail_attempts``,
``not_on_whatsapp``); the three cases run side by side on one server.
"""

from pathlib import Path
from typing import Any

from tests.support.gateway import at, deliveries, message, running, send, settled, wait_for
from tests.support.provision import provision_tenant

BASE_S = 0.4  # retry delays: 0.2-0.4 s after the first failure, 0.4-0.8 s after the second
MAX_ATTEMPTS = 3


def test_transient_failures_retry_with_backoff_and_permanent_ones_fail_at_once(
    database_url: str, tmp_path: Path
) -> None:
    flaky = provision_tenant(database_url, transport_config='{"fail_attempts": 2}')
    down = provision_tenant(database_url, transport_config='{"fail_attempts": 99}')
    no_whatsapp = provision_tenant(
        database_url, transport_config='{"not_on_whatsapp": ["628111111111"]}'
    )
    env = {"KURIR_RETRY_BASE_SECONDS": str(BASE_S), "KURIR_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
    with (
        running(database_url, tmp_path, **env) as server,
        server.client(flaky.api_key) as flaky_http,
        server.client(down.api_key) as down_http,
        server.client(no_whatsapp.api_key) as no_whatsapp_http,
    ):
        flaky_id = send(flaky_http, flaky.device_id, "flaky")
        down_id = send(down_http, down.device_id, "never")
        nobody_id = send(no_whatsapp_http, no_whatsapp.device_id, "nobody")

        def first_failure() -> dict[str, Any] | None:
            data = message(flaky_http, flaky_id)
            return data if data["last_error"] is not None else None

        # While it waits for its next try, the reason is there to see.
        retrying = wait_for(first_failure, timeout=5, what="the first failure to be recorded")
        assert retrying["status"] == "queued"
        assert retrying["attempts"] == 1
        assert retrying["last_error"] == (
            "sandbox: simulated network failure (attempt 1 of the first 2)"
        )

        failed = settled(no_whatsapp_http, nobody_id, timeout=5)
        assert failed["status"] == "failed"
        assert failed["attempts"] == 1
        assert failed["last_error"] == "recipient 628111111111 is not on WhatsApp"
        assert "failed" in failed["timestamps"]
        assert deliveries(no_whatsapp_http, no_whatsapp.device_id) == []

        delivered = settled(flaky_http, flaky_id, timeout=10)
        assert delivered["status"] == "delivered"
        assert delivered["attempts"] == 3  # fail_attempts + 1
        assert delivered["last_error"] is None
        # Two waits of at least BASE_S/2 and BASE_S: backoff, not a tight loop.
        waited = at(delivered["timestamps"]["sent"]) - at(delivered["timestamps"]["created"])
        assert waited.total_seconds() >= BASE_S / 2 + BASE_S
        assert [d["message_id"] for d in deliveries(flaky_http, flaky.device_id)] == [flaky_id]

        gave_up = settled(down_http, down_id, timeout=10)
        assert gave_up["status"] == "failed"
        assert gave_up["attempts"] == MAX_ATTEMPTS
        assert gave_up["last_error"] == (
            f"gave up after {MAX_ATTEMPTS} attempts: sandbox: simulated network failure "
            f"(attempt {MAX_ATTEMPTS} of the first 99)"
        )
        assert deliveries(down_http, down.device_id) == []
