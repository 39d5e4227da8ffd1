"""``/metrics`` of a real ``kurir serve``, on its own port, read with Prometheus's own parser."""

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.contract import accepted_id, send, send_text, wait_for_status
from tests.e2e.kurir_cli import add_flaky_device, jakarta_schedule, run_kurir, wait_until
from tests.support.databases import DATABASE_KINDS, database_of_kind, sqlite_url
from tests.support.receiver import Receiver
from tests.support.server import KurirProcess, free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(params=DATABASE_KINDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KurirProcess]:
    with database_of_kind(request.param, tmp_path) as url:
        process = KurirProcess(
            url,
            tmp_path,
            env={
                "KURIR_METRICS_PORT": str(free_port()),
                "KURIR_ALLOW_PRIVATE_URLS": "true",
                "KURIR_RETRY_BASE_SECONDS": "0.1",
            },
        ).start()
        try:
            yield process
        finally:
            process.stop()


def scrape(server: KurirProcess) -> Samples:
    """Every sample of the server's metrics, parsed as Prometheus parses them."""
    port = server.env["KURIR_METRICS_PORT"]
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_messages_sends_and_deliveries(server: KurirProcess) -> None:
    before = scrape(server)
    with server.client() as http, Receiver() as receiver:
        # Only on the metrics port: the public API knows no such route.
        assert http.get("/metrics").status_code == 404
        created = http.post(
            "/webhooks", json={"url": receiver.url, "events": ["message.status"]}
        ).json()
        receiver.secret = created["data"]["secret"]
        device = server.device_id
        sent = [accepted_id(send_text(http, device)) for _ in range(2)]
        sent.append(accepted_id(send(http, device)))
        send_text(http, device, schedule=jakarta_schedule(timedelta(hours=1)))
        assert send_text(http, device, phone="12").status_code == 422
        for message_id in sent:
            wait_for_status(http, message_id, "delivered")

        def counted() -> bool:
            now = scrape(server)
            return (
                value(now, "kurir_sends_total", transport="sandbox", outcome="sent") >= 3
                and value(now, "kurir_webhook_deliveries_total", outcome="delivered") >= 3
                and value(now, "kurir_queue_depth", status="scheduled") == 1
            )

        wait_until(counted, within=30, what="the sends, deliveries and queue in the metrics")
    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("kurir_messages_accepted_total", kind="text") == 3
    assert grew("kurir_messages_accepted_total", kind="button") == 1
    assert grew("kurir_http_requests_total", route="/send/text", status="200") == 3
    assert grew("kurir_http_requests_total", route="/send/text", status="422") == 1
    assert grew("kurir_http_requests_total", route="/send/button", status="200") == 1
    # Routes by their template, whatever the id in the path.
    assert grew("kurir_http_requests_total", route="/message/{message_id}", status="200") >= 3
    assert grew("kurir_http_requests_total", route="/webhooks", status="200") == 1
    assert value(after, "kurir_send_latency_seconds_count", transport="sandbox") >= 3
    assert value(after, "kurir_schedule_lateness_seconds_count") >= 3
    assert value(after, "kurir_queue_depth", status="queued") == 0
    assert value(after, "kurir_devices", state="connected") == 1
    assert value(after, "kurir_workers") == 1
    assert value(after, "process_resident_memory_bytes") > 0


def test_a_failed_attempt_is_counted_as_a_retry(server: KurirProcess) -> None:
    add_flaky_device(server.database_url)
    with server.client() as http:
        message_id = accepted_id(send_text(http, "flaky"))
        wait_for_status(http, message_id, "delivered", timeout=60)
    samples = scrape(server)
    assert value(samples, "kurir_sends_total", transport="sandbox", outcome="retry") == 1
    assert value(samples, "kurir_sends_total", transport="sandbox", outcome="sent") == 1


def test_an_api_process_and_a_worker_each_serve_their_own(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    api = KurirProcess(
        url, tmp_path, args=("--no-dispatch",), env={"KURIR_METRICS_PORT": str(free_port())}
    ).start()
    worker = KurirProcess(
        url, tmp_path, command="worker", env={"KURIR_METRICS_PORT": str(free_port())}
    )
    try:
        worker.start()
        with api.client() as http:
            message_id = accepted_id(send_text(http, api.device_id))
            wait_for_status(http, message_id, "delivered")
        wait_until(
            lambda: (
                value(scrape(worker), "kurir_sends_total", transport="sandbox", outcome="sent") == 1
            ),
            within=30,
            what="the worker's send in its metrics",
        )
        at_api, at_worker = scrape(api), scrape(worker)
        assert value(at_api, "kurir_messages_accepted_total", kind="text") == 1
        assert value(at_api, "kurir_sends_total", transport="sandbox", outcome="sent") == 0
        assert value(at_worker, "kurir_messages_accepted_total", kind="text") == 0
        # The gauges read the shared database: both see the one worker.
        assert value(at_api, "kurir_workers") == value(at_worker, "kurir_workers") == 1
    finally:
        worker.stop()
        api.stop()


def test_a_taken_metrics_port_stops_the_start_with_its_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("serve", "worker"):
            result = run_kurir(
                command,
                database_url=sqlite_url(tmp_path),
                env={"KURIR_METRICS_PORT": str(port), "KURIR_PORT": str(free_port())},
            )
            assert result.returncode == 2, result.stderr
            assert f"kurir: cannot listen on 127.0.0.1:{port}: Address already in use" in (
                result.stderr
            )
            assert "Traceback" not in result.stderr
