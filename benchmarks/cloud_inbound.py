"""Meta's status webhooks posted to ``kurir serve``, signed and forged: see `bench_cloud`."""

import argparse
import asyncio
import hashlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
import uvloop

from cloud_setup import INBOUND_DEVICE, Rate, count_statuses, prefill
from graph_server import phone_number
from harness import (
    HOST,
    progress,
    sqlite_url,
    start_kurir_serve,
)
from kurir.domain.status import MessageStatus
from kurir.store.tables import messages
from loadgen import HttpConnection, connect

# Meta's webhook shapes live with the tests, at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.graph_data import WABA_ID, graph_json
from tests.support.graph_standin import APP_SECRET
from tests.support.graph_webhooks import envelope, signature, status_value


def webhook_requests(url: str, port: int, *, forged: bool) -> list[bytes]:
    """One signed ``delivered`` notification per message, as raw HTTP requests."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(messages.c.message_id, messages.c.recipient).order_by(messages.c.id)
            ).all()
    finally:
        engine.dispose()
    phone = phone_number(0)
    at = int(time.time())
    requests = []
    for message_id, recipient in rows:
        value = status_value(
            f"wamid.bench-{message_id}",
            "delivered",
            recipient,
            at,
            conversation_id=hashlib.md5(recipient.encode(), usedforsecurity=False).hexdigest(),
            biz_opaque_callback_data=message_id,
        )
        body = graph_json(envelope(WABA_ID, phone, value))
        signed = "sha256=" + "0" * 64 if forged else signature(body, APP_SECRET)
        head = (
            f"POST /webhooks/cloud/{INBOUND_DEVICE} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\nX-Hub-Signature-256: {signed}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


def post_all(port: int, requests: list[bytes], connections: int) -> tuple[float, dict[int, int]]:
    """Seconds to have every request answered, closed loop; answers by status."""
    answers: dict[int, int] = {}

    async def run() -> float:
        loop = asyncio.get_running_loop()
        opened = await connect(loop, [port], connections)
        queue: Iterator[bytes] = iter(requests)

        async def drive(connection: HttpConnection) -> None:
            for request in queue:
                status, _ = await connection.request(request)
                answers[status] = answers.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(drive(connection) for connection, _ in opened))
        elapsed = time.perf_counter() - started
        for connection, _ in opened:
            connection.close()
        return elapsed

    return uvloop.run(run()), answers


def run_inbound(args: argparse.Namespace, log_dir: Path) -> tuple[Rate, Rate, list[str]]:
    problems: list[str] = []
    directory = log_dir / "inbound"
    directory.mkdir()
    url = sqlite_url(directory)
    prefill(url, "https://graph.facebook.com", 1, args.statuses, MessageStatus.SENT.value)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            messages.update().values(provider_message_id="wamid.bench-" + messages.c.message_id)
        )
    engine.dispose()
    server = start_kurir_serve(url, log_dir, "serve-cloud-webhooks")
    try:
        forged = webhook_requests(url, server.port, forged=True)
        signed = webhook_requests(url, server.port, forged=False)
        progress(f"inbound baseline: {len(forged):,} notifications with a wrong signature")
        before = server.cpu_seconds()
        seconds, answers = post_all(server.port, forged, args.connections)
        refusing_cpu = server.cpu_seconds() - before
        baseline = Rate(
            "wrong signature: refused (403)",
            answers.get(403, 0),
            seconds,
            f"server {refusing_cpu:.1f}",
            measured_cpu=refusing_cpu,
        )
        if answers.get(403, 0) != len(forged):
            problems.append(f"the forged notifications were answered {answers}")
        progress(f"inbound: {len(signed):,} signed delivered statuses")
        before = server.cpu_seconds()
        seconds, answers = post_all(server.port, signed, args.connections)
        server_cpu = server.cpu_seconds() - before
    finally:
        server.stop()
    applied = count_statuses(url).get(MessageStatus.DELIVERED.value, 0)
    measured = Rate(
        "signed: recorded and applied (200)",
        applied,
        seconds,
        f"server {server_cpu:.1f}",
        measured_cpu=server_cpu,
    )
    if answers.get(200, 0) != len(signed) or applied != len(signed):
        problems.append(f"{applied:,} applied of {len(signed):,}; answers {answers}")
    return baseline, measured, problems
