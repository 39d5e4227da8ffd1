"""The Cloud API transport: dispatch against the Graph stand-in, and Meta's status webhooks.

Two measurements on fresh SQLite databases, each beside a baseline taken in
the same run:

*Dispatch* (goal: >= 1,000 messages/s from one worker over 20 devices).
The tests' Graph stand-in (payload checks as Meta documents them, Meta's
answers, every request recorded) serves ``--devices`` business numbers from
a process of its own (`graph_server.py`). ``--messages`` due messages, text
and 3-button messages in turn, wait on as many ``cloud`` devices at Meta's
default 80 messages/s each; one ``kurir worker`` sends them, and a read
connection counts those ``sent``. The rate is *steady* (first sent to last,
as `bench_dispatch.py` reports it). Afterwards the stand-in says how often
it accepted each Kurir message id: every one exactly once, or the run is
reported as wrong. Baseline: a plain client (httpx, as the transport uses)
with one connection per number sending the same payloads one after another
per number, as the dispatcher does: the most any client sending one message
at a time per device gets from this stand-in on this machine.

*Inbound webhooks* (goal: >= 2,000 status events/s applied). ``--statuses``
messages stand ``sent`` on one ``cloud`` device, each with its Meta id. A
``kurir serve --no-dispatch`` gets one signed ``delivered`` notification per
message, as Meta sends them (one status per notification, Meta's envelope,
``biz_opaque_callback_data`` echoed), from ``--connections`` keep-alive
connections in a closed loop (`loadgen.py`'s client). Each is answered only
after it was recorded and applied, so answered = applied; the database is
read afterwards to confirm. Baseline: the same requests with a wrong
``X-Hub-Signature-256``, which the route refuses after reading the body,
finding the device and checking the HMAC, before touching the database: the
route's bare HTTP rate, so the difference is what recording and applying cost.

Each row shows the CPU seconds its processes used (the worker's from its
first sent message, without its start) and the rate per CPU second of the
process measured: on a shared machine, what the code could do on a core of
its own matters beside what it did here.

Usage: ``.venv/bin/python benchmarks/bench_cloud.py [--messages 20000]
[--devices 20] [--statuses 20000] [--connections 32]`` (``make bench-cloud``).
"""

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import sqlalchemy as sa
import uvloop

from bench_dispatch import RECIPIENTS, button_content, text_content
from cloud_inbound import run_inbound
from cloud_setup import Rate, message_ids, prefill
from graph_server import phone_number, phone_number_id
from harness import (
    HOST,
    PYTHON,
    HttpServer,
    Process,
    code_version,
    load_average,
    machine_busy_seconds,
    progress,
    sqlite_url,
    start_kurir_worker,
    start_server,
    table,
    verdict,
)
from kurir.domain.content import decode_content
from kurir.domain.status import MessageStatus
from kurir.store.tables import messages
from kurir.transports.base import DeviceInfo, OutboundMessage
from kurir.transports.cloud.payloads import message_payload

# The stand-in lives with the tests, at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.graph_standin import ACCESS_TOKEN

DISPATCH_GOAL = 1000.0
INBOUND_GOAL = 2000.0
_DONE = [MessageStatus.SENT.value, MessageStatus.DELIVERED.value, MessageStatus.READ.value]


# -- dispatch ------------------------------------------------------------------


def start_standin(log_dir: Path, numbers: int) -> HttpServer:
    return start_server(
        "graph-standin",
        lambda port: [
            PYTHON,
            str(Path(__file__).with_name("graph_server.py")),
            *("--port", str(port), "--numbers", str(numbers)),
        ],
        log_dir,
        lambda _port: dict(os.environ),
    )


def plain_client(base_url: str, devices: int, count: int) -> tuple[float, float]:
    """Seconds and CPU seconds to send ``count`` payloads, one at a time per number.

    Clients are made and connected (one send each, not counted) before the
    clock starts, as the worker's are before its first counted send.
    """
    contents = [decode_content(text_content()), decode_content(button_content())]
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": "application/json"}

    def payload(n: int, message_id: str, i: int) -> bytes:
        device = DeviceInfo(id=n, public_id=f"n{n}", account_id=1, phone=phone_number(n).digits)
        message = OutboundMessage(
            message_id=message_id,
            device=device,
            recipient=RECIPIENTS[i % len(RECIPIENTS)],
            content=contents[i // devices % 2],
            attempt=1,
        )
        return msgspec.json.encode(message_payload(message, list_button_label="Pilih"))

    async def send(client: httpx.AsyncClient, n: int, body: bytes) -> None:
        answer = await client.post(f"{base_url}/v23.0/{phone_number_id(n)}/messages", content=body)
        if answer.status_code != 200:
            raise RuntimeError(f"the stand-in refused a baseline send: {answer.text}")

    async def one_number(client: httpx.AsyncClient, n: int) -> None:
        for i in range(n, count, devices):
            await send(client, n, payload(n, f"baseline-{i}", i))

    async def run() -> tuple[float, float]:
        clients = [
            httpx.AsyncClient(headers=headers, trust_env=False, timeout=30) for _ in range(devices)
        ]
        try:
            await asyncio.gather(
                *(send(client, n, payload(n, f"warmup-{n}", n)) for n, client in enumerate(clients))
            )
            started, cpu = time.perf_counter(), own_cpu_seconds()
            await asyncio.gather(*(one_number(client, n) for n, client in enumerate(clients)))
            return time.perf_counter() - started, own_cpu_seconds() - cpu
        finally:
            for client in clients:
                await client.aclose()

    return uvloop.run(run())  # the loop the worker runs on


def own_cpu_seconds() -> float:
    """CPU time of this process: the plain client's, or the webhook load generator's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Watched:
    """What the worker did from its first sent message to its last."""

    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    #: Its CPU seconds in that time, without its start (imports, schema check, leases).
    cpu: float = 0.0


def watch_worker(url: str, worker: Process, total: int, timeout: float) -> Watched:
    """Poll the messages' statuses until all are sent or failed."""
    engine = sa.create_engine(url)
    first: tuple[float, int, float] | None = None
    deadline = time.perf_counter() + timeout
    try:
        while True:
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
                )
                counts = {str(status): int(n) for status, n in rows}
            now = time.perf_counter()
            sent = sum(counts.get(s, 0) for s in _DONE)
            failed = counts.get(MessageStatus.FAILED.value, 0)
            if sent and first is None:
                first = (now, sent, worker.cpu_seconds())
            if sent + failed >= total or now > deadline:
                break
            worker.check_alive()
            time.sleep(0.05)
    finally:
        engine.dispose()
    if first is None or now <= first[0]:
        return Watched(sent, failed)
    return Watched(sent - first[1], failed, now - first[0], worker.cpu_seconds() - first[2])


def run_dispatch(args: argparse.Namespace, log_dir: Path) -> tuple[Rate, Rate, list[str]]:
    problems: list[str] = []
    standin = start_standin(log_dir, args.devices)
    try:
        base_url = f"http://{HOST}:{standin.port}"
        progress(f"dispatch baseline: a plain client, {args.messages:,} sends")
        before = standin.cpu_seconds()
        seconds, client_cpu = plain_client(base_url, args.devices, args.messages)
        baseline = Rate(
            "plain client -> stand-in",
            args.messages,
            seconds,
            f"client {client_cpu:.1f}, stand-in {standin.cpu_seconds() - before:.1f}",
            measured_cpu=client_cpu,
        )
        directory = log_dir / "dispatch"
        directory.mkdir()
        url = sqlite_url(directory)
        prefill(url, base_url, args.devices, args.messages, MessageStatus.QUEUED.value)
        progress(f"dispatch: one kurir worker, {args.messages:,} messages")
        before = standin.cpu_seconds()
        worker = start_kurir_worker(url, log_dir, "worker-cloud")
        try:
            watched = watch_worker(url, worker, args.messages, args.timeout)
        finally:
            worker.stop()
        measured = Rate(
            "kurir worker -> stand-in (steady)",
            watched.sent,
            watched.seconds,
            f"worker {watched.cpu:.1f}, stand-in {standin.cpu_seconds() - before:.1f}",
            f"{watched.failed:,} failed" if watched.failed else "",
            measured_cpu=watched.cpu,
        )
        kurir_ids = message_ids(url)
        accepted = httpx.get(f"{base_url}/bench/sent", timeout=60).json()["sent"]
        counted = {key: n for key, n in accepted.items() if key in kurir_ids}
        if set(counted) != kurir_ids:
            problems.append(f"{len(kurir_ids - set(counted)):,} Kurir messages never reached Meta")
        twice = sum(1 for n in counted.values() if n > 1)
        if twice:
            problems.append(f"{twice:,} Kurir messages were accepted by Meta more than once")
    finally:
        standin.stop()
    return baseline, measured, problems


def report(rows: list[tuple[str, Rate, float | None]]) -> str:
    return table(
        ["measurement", "what", "count", "seconds", "per s", "CPU s", "per CPU s", "goal", "note"],
        [
            [
                name,
                rate.what,
                f"{rate.count:,}",
                f"{rate.seconds:.2f}",
                f"{rate.per_s:,.0f}",
                rate.cpu,
                f"{rate.per_cpu_s:,.0f}",
                "-" if goal is None else f">= {goal:,.0f}: {verdict(rate.per_s >= goal)}",
                rate.note,
            ]
            for name, rate, goal in rows
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000, help="messages to dispatch")
    parser.add_argument("--devices", type=int, default=20, help="cloud devices (numbers)")
    parser.add_argument("--statuses", type=int, default=20_000, help="status webhooks to post")
    parser.add_argument("--connections", type=int, default=32, help="webhook connections")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up dispatch after")
    args = parser.parse_args()
    load_before, busy_before, started = load_average(), machine_busy_seconds(), time.time()
    with tempfile.TemporaryDirectory(prefix="kurir-bench-") as tmp:
        dispatch_baseline, dispatched, dispatch_problems = run_dispatch(args, Path(tmp))
        inbound_baseline, inbound, inbound_problems = run_inbound(args, Path(tmp))
    busy = (machine_busy_seconds() - busy_before) / (time.time() - started)
    print(f"\nCloud API at commit {code_version()}: {args.devices} devices, SQLite")
    print(
        report(
            [
                ("dispatch", dispatch_baseline, None),
                ("dispatch", dispatched, DISPATCH_GOAL),
                ("inbound", inbound_baseline, None),
                ("inbound", inbound, INBOUND_GOAL),
            ]
        )
    )
    print(
        f"dispatch: {dispatched.per_s / dispatch_baseline.per_s:.2f} of the plain client; "
        f"inbound: {inbound.per_s / inbound_baseline.per_s:.2f} of the refused requests' rate"
    )
    print(
        f"machine: load average {load_before} before, {load_average()} after; "
        f"{busy:.2f} of its cores busy on average during the run (this run's processes included)"
    )
    for problem in dispatch_problems + inbound_problems:
        print(f"WRONG: {problem}")


if __name__ == "__main__":
    main()
