"""Per-device pacing and order, read back from what the sandbox delivered."""

import itertools
from pathlib import Path

from tests.support.gateway import at, delivered, running, send
from tests.support.provision import provision_tenant

MIN_MS, MAX_MS = 300, 400
PACED = 5
UNPACED = 40


def test_a_paced_device_keeps_its_interval_and_every_device_its_order(
    database_url: str, tmp_path: Path
) -> None:
    paced = provision_tenant(database_url, min_interval_ms=MIN_MS, max_interval_ms=MAX_MS)
    unpaced = provision_tenant(database_url)
    with (
        running(database_url, tmp_path) as server,
        server.client(paced.api_key) as paced_http,
        server.client(unpaced.api_key) as unpaced_http,
    ):
        # Interleaved, each answered before the next is sent: that is the order accepted.
        paced_ids: list[str] = []
        unpaced_ids: list[str] = []
        for index in range(UNPACED):
            unpaced_ids.append(send(unpaced_http, unpaced.device_id, f"u{index}"))
            if index < PACED:
                paced_ids.append(send(paced_http, paced.device_id, f"p{index}"))

        got_unpaced = delivered(unpaced_http, unpaced.device_id, UNPACED, timeout=10)
        got_paced = delivered(paced_http, paced.device_id, PACED, timeout=10)

    assert [d["message_id"] for d in got_unpaced] == unpaced_ids
    assert [d["message_id"] for d in got_paced] == paced_ids
    times = [at(d["delivered_at"]) for d in got_paced]
    gaps_ms = [(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(times)]
    assert all(gap >= MIN_MS for gap in gaps_ms), gaps_ms
    # Paced, not stalled: each gap is the interval plus a little bookkeeping.
    assert all(gap < MAX_MS + 600 for gap in gaps_ms), gaps_ms
