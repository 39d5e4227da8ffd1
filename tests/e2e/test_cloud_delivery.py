"""Sending through the Cloud API when Meta says no: rate limits, refused tokens, lost answers.

A real ``kurir serve`` with a cloud device, against the Graph stand-in told
to fail; and the webhook inbox as a crash would leave it.
"""

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.cloud_device import (
    CLOUD,
    RECIPIENT,
    add_cloud_device,
    message,
    status_becomes,
    wamid_of,
    webhook_url,
)
from tests.support.databases import sqlite_url
from tests.support.gateway import running, wait_for
from tests.support.graph_data import graph_json
from tests.support.graph_standin import GraphStandin
from tests.support.server import KurirProcess

#: Retries come quickly here, so a test of them takes seconds, not minutes.
FAST_RETRIES = {"KURIR_RETRY_BASE_SECONDS": "0.1", "KURIR_RETRY_MAX_SECONDS": "0.4"}


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[KurirProcess, GraphStandin]]:
    with GraphStandin() as graph, running(sqlite_url(tmp_path), tmp_path, **FAST_RETRIES) as server:
        add_cloud_device(server, graph, tmp_path)
        graph.webhooks.url = webhook_url(server)
        yield server, graph


def send_text(http: httpx.Client, text: str) -> str:
    response = http.post("/send/text", json={"device": CLOUD, "phone": RECIPIENT, "message": text})
    assert response.status_code == 200, response.text
    message_id: str = response.json()["message_id"]
    return message_id


def device_state(http: httpx.Client) -> str:
    devices = {d["device"]: d for d in http.get("/device/list").json()["data"]}
    state: str = devices[CLOUD]["state"]
    return state


@pytest.mark.parametrize(
    ("code", "refusals"),
    [(4, 12), (130429, 12), (131056, 2)],
    ids=["application-limit", "throughput-limit", "pair-rate-limit"],
)
def test_a_stand_in_answering_429_for_a_while_delays_messages_and_sends_each_once(
    cloud: tuple[KurirProcess, GraphStandin], code: int, refusals: int
) -> None:
    """Graph's app limit, the Cloud API's throughput limit, the pair rate limit (6 s each)."""
    server, graph = cloud
    graph.fail_next(code, times=refusals, status=429)
    with server.client() as http:
        message_ids = [send_text(http, f"Pesan {n}") for n in range(5)]
        for message_id in message_ids:
            status_becomes(http, message_id, "sent")
        # Counted at the stand-in per Kurir message id: each accepted once, and each
        # tried exactly as often as Kurir says it tried.
        accepted = Counter(sent.payload["biz_opaque_callback_data"] for sent in graph.sent)
        assert accepted == Counter(message_ids)
        sends = [r for r in graph.requests if r.method == "POST"]  # not the credential check
        tried = Counter(r.payload["biz_opaque_callback_data"] for r in sends)
        assert tried == {m: message(http, m)["attempts"] for m in message_ids}
        refused = [r for r in graph.requests if r.status == 429]
        assert len(refused) == refusals
        assert tried.total() == 5 + refusals


def test_the_pair_rate_limit_is_waited_out_six_seconds_at_least(
    cloud: tuple[KurirProcess, GraphStandin],
) -> None:
    server, graph = cloud
    graph.fail_next(131056)
    with server.client() as http:
        message_id = send_text(http, "Halo")

        def retried() -> dict[str, Any] | None:
            data = message(http, message_id)
            return data if data["attempts"] == 1 and data["status"] == "queued" else None

        data = wait_for(retried, timeout=20, what="the refused send to wait for its retry")
        assert "pair rate limit" in data["last_error"]
        due = datetime.fromisoformat(data["scheduled_for"]).timestamp()
        assert due - time.time() > 4.5  # six seconds from the refusal, a moment ago


def test_refused_credentials_fail_the_message_and_show_in_the_device_list(
    cloud: tuple[KurirProcess, GraphStandin],
) -> None:
    server, graph = cloud
    graph.fail_next(190)
    with server.client() as http:
        message_id = send_text(http, "Halo")
        failed = status_becomes(http, message_id, "failed")
        assert "Meta refused the device's credentials" in failed["last_error"]
        assert graph.access_token not in failed["last_error"]
        assert device_state(http) == "credentials_invalid"
        # Meta takes the token again (a permission restored): the next send clears the state.
        status_becomes(http, send_text(http, "Lagi"), "sent")
        assert device_state(http) == "connected"


def test_a_webhook_recorded_but_never_applied_is_applied_when_meta_sends_it_again(
    cloud: tuple[KurirProcess, GraphStandin],
) -> None:
    """As a crash between recording and applying leaves it: Meta had no 200, so it retries."""
    server, graph = cloud
    with server.client() as http:
        response = http.post(
            "/send/text", json={"device": CLOUD, "phone": RECIPIENT, "message": "Halo"}
        )
        message_id = response.json()["message_id"]
        wamid = wamid_of(graph, message_id)
        status_becomes(http, message_id, "sent")
        read = graph.status(wamid, "read")
        body = graph_json(read)
        engine = sa.create_engine(server.database_url)
        with engine.begin() as connection:
            device_id = connection.execute(
                sa.text("SELECT id FROM devices WHERE public_id = :id"), {"id": CLOUD}
            ).scalar_one()
            connection.execute(
                sa.text(
                    "INSERT INTO cloud_webhooks (device_id, digest, body, received_at) "
                    "VALUES (:device, :digest, :body, 0)"
                ),
                {"device": device_id, "digest": hashlib.sha256(body).hexdigest(), "body": body},
            )
        assert graph.webhooks.deliver(read).status == 200
        status_becomes(http, message_id, "read")
        with engine.begin() as connection:
            row = connection.execute(sa.text("SELECT applied_at, body FROM cloud_webhooks")).one()
        engine.dispose()
        assert row.applied_at is not None
        assert row.body is None  # applied: the bytes are no longer kept


def test_a_webhook_the_database_refuses_fails_alone_and_is_kept_for_metas_next_try(
    cloud: tuple[KurirProcess, GraphStandin],
) -> None:
    """Posted among others, perhaps in their transaction: they are applied, it is kept.

    A trigger makes the database refuse one inbound text, as it might refuse
    a value it cannot store.
    """
    server, graph = cloud
    engine = sa.create_engine(server.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TRIGGER refuse_racun BEFORE INSERT ON inbound_messages "
                    "WHEN NEW.text = 'racun' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        with server.client() as http:
            message_ids = [send_text(http, f"Pesan {n}") for n in range(8)]
            wamids = [wamid_of(graph, message_id) for message_id in message_ids]
            for message_id in message_ids:
                status_becomes(http, message_id, "sent")
            refused = graph.text_from(RECIPIENT, "racun")
            # Late among them: the first to arrive is committed alone, the rest together.
            payloads = [*(graph.status(wamid, "delivered") for wamid in wamids), refused]
            with ThreadPoolExecutor(len(payloads)) as pool:
                *answers, refusal = pool.map(graph.webhooks.deliver, payloads)
            assert [a.status for a in answers] == [200] * len(wamids)
            assert refusal.status == 503, refusal.response
            for message_id in message_ids:
                status_becomes(http, message_id, "delivered")
            digest = hashlib.sha256(refusal.body).hexdigest()
            query = sa.text("SELECT body, applied_at FROM cloud_webhooks WHERE digest = :d")
            with engine.connect() as connection:
                kept = connection.execute(query, {"d": digest}).one()
            assert (kept.body, kept.applied_at) == (refusal.body.decode(), None)

            with engine.begin() as connection:
                connection.execute(sa.text("DROP TRIGGER refuse_racun"))
            assert graph.webhooks.replay(refusal).status == 200
            inbound = http.get("/messages/inbound", params={"device": CLOUD}).json()["data"]
            assert [m["text"] for m in inbound] == ["racun"]
            with engine.connect() as connection:
                applied = connection.execute(query, {"d": digest}).one()
            assert (applied.body, applied.applied_at is not None) == (None, True)
    finally:
        engine.dispose()
