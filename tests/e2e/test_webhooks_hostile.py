"""Receivers that misbehave, through a real ``kurir serve``: each outcome in the delivery log.

One that redirects (not followed, retried), one that never answers (timed
out, retried), one that answers 10 MB (delivered, only the start kept) and
one that answers 410 Gone (final at once). The owner reads each in
``GET /webhooks/{id}/deliveries``. A private URL refused at registration and
another account's endpoints and deliveries answering 404 are tested in
test_webhooks_api.py and test_webhook_deliveries_api.py; the attempt's rules
one by one in tests/integration/test_webhook_attempts.py.
"""

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.webhook_receiving import DELIVERING_ENV, WAIT_S
from tests.support.databases import sqlite_url
from tests.support.gateway import running, send, settled, wait_for
from tests.support.origin import Received, answer, never_answer, ok, redirect, served

HUGE = 10 * 1024 * 1024
#: A sandbox message's events: sending, sent, delivered.
EVENTS = 3


async def _gone(_request: Received, writer: Any) -> None:
    await answer(writer, 410, b"this endpoint was removed")


def _log(http: httpx.Client, webhook: str) -> list[dict[str, Any]]:
    response = http.get(f"/webhooks/{webhook}/deliveries")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_each_misbehaving_receiver_s_outcome_is_in_its_delivery_log(tmp_path: Path) -> None:
    routes = {
        "/moved": redirect("/elsewhere"),
        "/silent": never_answer,
        "/huge": ok(b"x" * HUGE, "text/plain"),
        "/gone": _gone,
    }
    env = {**DELIVERING_ENV, "KURIR_WEBHOOK_TIMEOUT_SECONDS": "1"}
    with (
        served(routes) as origin,
        running(sqlite_url(tmp_path), tmp_path, **env) as kurir,
        kurir.client() as http,
    ):
        webhooks = {}
        for path in routes:
            body = {"url": origin.url(path), "events": ["message.status"]}
            response = http.post("/webhooks", json=body)
            assert response.status_code == 200, response.text
            webhooks[path] = response.json()["data"]["id"]
        message_id = send(http, kurir.device_id, "Halo")
        settled(http, message_id, timeout=30)

        def tried_twice(path: str) -> list[dict[str, Any]] | None:
            log = _log(http, webhooks[path])
            return log if log and all(len(d["attempts"]) >= 2 for d in log) else None

        def ended(path: str, status: str) -> list[dict[str, Any]] | None:
            log = _log(http, webhooks[path])
            return log if len(log) == EVENTS and {d["status"] for d in log} == {status} else None

        moved = wait_for(lambda: tried_twice("/moved"), timeout=WAIT_S, what="redirects")
        silent = wait_for(lambda: tried_twice("/silent"), timeout=WAIT_S, what="timeouts")
        huge = wait_for(lambda: ended("/huge", "delivered"), timeout=WAIT_S, what="10 MB")
        gone = wait_for(lambda: ended("/gone", "dead"), timeout=WAIT_S, what="410s")
        views = {
            path: http.get(f"/webhooks/{wid}").json()["data"] for path, wid in webhooks.items()
        }

    assert len(moved) == len(silent) == EVENTS
    for delivery in moved:
        assert delivery["status"] in ("pending", "delivering")
        for attempt in delivery["attempts"]:
            assert attempt["status_code"] == 302
            assert attempt["error"] == (
                f"{origin.url('/moved')}: answered 302 Found (to {origin.url('/elsewhere')});"
                " redirects are not followed: set the URL that answers"
            )
    assert not any(r.path == "/elsewhere" for r in origin.received)
    for delivery in silent:
        assert delivery["status"] in ("pending", "delivering")
        for attempt in delivery["attempts"]:
            assert attempt["status_code"] is None
            assert attempt["error"] == f"{origin.url('/silent')}: no complete answer within 1 s"
            assert attempt["latency_ms"] >= 950
    for delivery in huge:
        (attempt,) = delivery["attempts"]
        assert (attempt["status_code"], attempt["error"]) == (200, None)
        assert attempt["response"] == "x" * 1024
    for delivery in gone:
        (attempt,) = delivery["attempts"]  # final: never tried again
        assert attempt["status_code"] == 410
        assert attempt["response"] == "this endpoint was removed"
    assert (views["/gone"]["dead_deliveries"], views["/huge"]["dead_deliveries"]) == (EVENTS, 0)
    assert views["/huge"]["pending_deliveries"] == 0
    assert all(view["enabled"] for view in views.values())  # far from the 24 h deadline
