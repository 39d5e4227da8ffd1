"""Webhook delivery: throughput, event-to-delivery latency, and its cost to dispatch.

Every figure is set beside a baseline measured in the same run. The receiver
is ``webhook_receiver.py``, a bare ASGI app on uvicorn (httptools, uvloop) in
a process of its own that answers 200, verifies nothing and keeps each
``webhook-id``'s arrival time.

* Throughput: a fresh database is filled with ``--events`` status events of
  one device, each fanned out to ``--endpoints`` endpoints at the receiver
  (through ``kurir.store.events.record_events``, as Kurir writes them); then
  ``kurir worker`` is started with ``KURIR_WEBHOOK_CONCURRENCY=--concurrency``
  and timed until every delivery is recorded delivered. Baseline: the same
  bodies posted to the same receiver by a plain client on Kurir's egress (its
  HTTP code, without database or signing) with as many requests in flight as
  the worker may have: what the receiver and HTTP alone do.
* Latency: ``kurir serve`` with the sandbox, one endpoint for
  ``message.status``, ``--rate`` text messages/s posted for ``--duration``
  seconds; each delivery's arrival at the receiver minus its event's
  ``events.created_at`` (both ms, one machine's clock). Baseline: the plain
  client posting at the same rate, from just before each post to its arrival.
* Dispatch: ``bench_dispatch.py``'s run (``--messages`` over ``--devices``
  sandbox devices, one worker) without an endpoint, then with one endpoint
  subscribed to every event, ``--dispatch-rounds`` times; the goal is judged
  on the median of the rounds' ratios. Each round also counts the webhooks
  that reached the receiver while the messages were being sent (sends come
  first: the rest go out after).

    .venv/bin/python benchmarks/bench_webhooks.py [--events 5000] [--no-postgres]
"""

import argparse
import asyncio
import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection

from bench_dispatch import run_dispatch
from harness import (
    API_KEY,
    DEVICE_ID,
    DEVICE_PHONE,
    PYTHON,
    HttpServer,
    code_version,
    kurir_env,
    load_average,
    percentile,
    postgres_database,
    postgres_unavailable_reason,
    progress,
    sqlite_url,
    start_kurir_worker,
    start_server,
    table,
    verdict,
)
from kurir.clock import now_ms
from kurir.domain.events import payload
from kurir.store import Store, accounts
from kurir.store.events import NewEvent, record_events
from kurir.store.migrate import upgrade_to_head
from kurir.store.tables import events, webhook_deliveries
from kurir.store.webhook_endpoints import create_endpoint
from webhook_load import (
    paced,
    plain_latency,
    plain_posts,
    receiver_stats,
    reset_receiver,
    start_receiver,
    status_event,
)

#: The issue's goals.
THROUGHPUT_GOAL = 3000.0
LATENCY_P99_GOAL_MS = 200.0
DISPATCH_RATIO_GOAL = 0.5
#: The deliverer's own cap on attempts in flight (``DeliverySettings.max_in_flight``).
MAX_IN_FLIGHT = 100
_POLL_S = 0.05
_DELIVERED = "delivered"


@dataclass
class Throughput:
    database: str
    deliveries: int
    delivered: int = 0
    steady_per_s: float = 0.0
    wall_s: float = 0.0
    worker_cpu_s: float = 0.0
    timed_out: bool = False
    baseline_per_s: float = 0.0


@dataclass
class Latency:
    events: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    baseline_p50_ms: float = 0.0
    baseline_p99_ms: float = 0.0
    missing: int = 0


@dataclass
class Report:
    throughput: list[Throughput] = field(default_factory=list)
    latency: Latency = field(default_factory=Latency)
    #: Steady msg/s of each round's dispatch without, then with, an endpoint.
    dispatch_rounds: list[tuple[float, float]] = field(default_factory=list)
    #: Webhooks that reached the receiver during each round's dispatch with an
    #: endpoint, and deliveries that dispatch made.
    delivered_while_dispatching: list[tuple[int, int]] = field(default_factory=list)
    skipped: str | None = None

    @property
    def dispatch_ratios(self) -> list[float]:
        return [with_ / without if without else 0.0 for without, with_ in self.dispatch_rounds]


# -- throughput ----------------------------------------------------------------


async def _prefill(url: str, hook: str, endpoint_count: int, event_count: int) -> None:
    store = Store(url, pool_size=2)
    try:
        now = now_ms()

        def setup(connection: Connection) -> tuple[int, int]:
            account = accounts.create_account(connection, name="bench", now=now)
            device = accounts.add_device(
                connection,
                public_id=DEVICE_ID,
                account_id=account.id,
                phone=DEVICE_PHONE,
                transport="sandbox",
                created_at=now,
            )
            for _ in range(endpoint_count):
                create_endpoint(
                    connection,
                    account_id=account.id,
                    url=hook,
                    events=["message.status"],
                    devices=None,
                    now=now,
                )
            return account.id, device.id

        account_id, device_id = await store.database.write(setup)
        for start in range(0, event_count, 1000):
            batch = [
                NewEvent(account_id, device_id, status_event(n, now))
                for n in range(start, min(event_count, start + 1000))
            ]
            await store.database.write(functools.partial(_record, batch=batch))
    finally:
        await store.close()


def _record(connection: Connection, batch: list[NewEvent]) -> int:
    return record_events(connection, batch)


def _delivered(connection: Connection) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(webhook_deliveries)
        .where(webhook_deliveries.c.status == _DELIVERED)
    )
    return int(connection.execute(query).scalar_one())


async def _watch(url: str, result: Throughput, deadline: float) -> None:
    store = Store(url, pool_size=1)
    try:
        started = time.perf_counter()
        first: tuple[float, int] | None = None
        while True:
            done = await store.read(_delivered)
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
            result.delivered = done
            if done >= result.deliveries or now > deadline:
                result.timed_out = done < result.deliveries
                break
            await asyncio.sleep(_POLL_S)
        result.wall_s = now - started
        if first is not None and now > first[0]:
            result.steady_per_s = (done - first[1]) / (now - first[0])
    finally:
        await store.close()


def run_throughput(
    url: str, database: str, receiver: HttpServer, args: argparse.Namespace, log_dir: Path
) -> Throughput:
    hook = f"http://127.0.0.1:{receiver.port}/hook"
    progress(f"throughput: {database}, {args.events:,} events x {args.endpoints} endpoints")
    upgrade_to_head(url)
    asyncio.run(_prefill(url, hook, args.endpoints, args.events))
    result = Throughput(database, args.events * args.endpoints)
    reset_receiver(receiver)
    worker = start_kurir_worker(
        url,
        log_dir,
        f"webhook-worker-{database.lower()}",
        KURIR_ALLOW_PRIVATE_URLS="true",
        KURIR_WEBHOOK_CONCURRENCY=str(args.concurrency),
    )
    try:
        asyncio.run(_watch(url, result, time.perf_counter() + args.timeout))
        result.worker_cpu_s = worker.cpu_seconds()
    finally:
        worker.stop()
    bodies = [payload(status_event(n, now_ms())) for n in range(result.deliveries)]
    in_flight = min(MAX_IN_FLIGHT, args.endpoints * args.concurrency)
    result.baseline_per_s = asyncio.run(plain_posts(hook, bodies, in_flight))
    return result


# -- latency -------------------------------------------------------------------


def _event_times(connection: Connection) -> dict[str, int]:
    query = sa.select(webhook_deliveries.c.public_id, events.c.created_at).join(
        events, events.c.id == webhook_deliveries.c.event_id
    )
    return {str(pid): int(at) for pid, at in connection.execute(query)}


def run_latency(receiver: HttpServer, args: argparse.Namespace, log_dir: Path) -> Latency:
    progress(f"latency: {args.rate:g} messages/s for {args.duration:g} s, SQLite")
    directory = log_dir / "latency"
    directory.mkdir()
    url = sqlite_url(directory)
    hook = f"http://127.0.0.1:{receiver.port}/hook"
    reset_receiver(receiver)
    server = start_server(
        "kurir-serve-latency",
        lambda _port: [PYTHON, "-m", "kurir", "serve"],
        log_dir,
        lambda port: kurir_env(url, KURIR_PORT=str(port), KURIR_ALLOW_PRIVATE_URLS="true"),
    )
    result = Latency()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=base, headers={"Authorization": API_KEY}) as http:
            created = http.post("/webhooks", json={"url": hook, "events": ["message.status"]})
            created.raise_for_status()
            webhook = created.json()["data"]["id"]

            def send(n: int) -> None:
                body = {"device": DEVICE_ID, "phone": "628111111111", "message": f"latency {n}"}
                http.post("/send/text", json=body).raise_for_status()

            paced(args.rate, args.duration, send)
            deadline = time.monotonic() + args.timeout
            while http.get(f"/webhooks/{webhook}").json()["data"]["pending_deliveries"]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    finally:
        server.stop()
    _, arrivals = receiver_stats(receiver)
    store = Store(url, pool_size=1)
    created_at = asyncio.run(_read_then_close(store, _event_times))
    waits = sorted(arrivals[pid] - at for pid, at in created_at.items() if pid in arrivals)
    result.events = len(created_at)
    result.missing = len(created_at) - len(waits)
    result.p50_ms = percentile(waits, 0.50)
    result.p99_ms = percentile(waits, 0.99)
    result.max_ms = waits[-1] if waits else 0.0
    result.baseline_p50_ms, result.baseline_p99_ms = plain_latency(receiver, args, len(waits))
    return result


async def _read_then_close(
    store: Store, work: Callable[[Connection], dict[str, int]]
) -> dict[str, int]:
    try:
        return await store.read(work)
    finally:
        await store.close()


# -- dispatch with and without an endpoint ----------------------------------------


def run_dispatch_pair(
    receiver: HttpServer, args: argparse.Namespace, log_dir: Path
) -> tuple[float, float, tuple[int, int]]:
    """Dispatch msg/s (steady, SQLite, one worker) without, then with, an endpoint.

    Also how many webhooks reached the receiver while the second run sent,
    of how many it made: the worker stops once every message is sent, the
    rest still pending.
    """
    rates = []
    for hook in (None, f"http://127.0.0.1:{receiver.port}/hook"):
        progress(f"dispatch: {args.messages:,} messages, {'with' if hook else 'without'} webhooks")
        directory = log_dir / f"dispatch-{'with' if hook else 'without'}"
        directory.mkdir()
        reset_receiver(receiver)
        result = run_dispatch(
            sqlite_url(directory),
            "SQLite",
            workers=1,
            message_count=args.messages,
            device_count=args.devices,
            timeout=args.timeout,
            log_dir=log_dir,
            floor=False,
            webhook_url=hook,
            worker_env={
                "KURIR_ALLOW_PRIVATE_URLS": "true",
                "KURIR_WEBHOOK_CONCURRENCY": str(args.concurrency),
            },
        )
        rates.append(result.steady_per_s)
    delivered, _ = receiver_stats(receiver)
    return rates[0], rates[1], (delivered, _deliveries_made(sqlite_url(directory)))


def _deliveries_made(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            count = sa.select(sa.func.count()).select_from(webhook_deliveries)
            return int(connection.execute(count).scalar_one())
    finally:
        engine.dispose()


# -- the report ----------------------------------------------------------------


def render(report: Report, args: argparse.Namespace) -> str:
    in_flight = min(MAX_IN_FLIGHT, args.endpoints * args.concurrency)
    lines = [
        f"Webhook throughput: {args.events:,} events x {args.endpoints} endpoints, "
        f"KURIR_WEBHOOK_CONCURRENCY={args.concurrency} ({in_flight} in flight), one worker",
        table(
            ["database", "delivered", "deliveries/s", "wall s", "worker CPU s", "plain client/s"],
            [
                [
                    r.database,
                    f"{r.delivered:,}/{r.deliveries:,}" + (" (timed out)" if r.timed_out else ""),
                    f"{r.steady_per_s:,.0f}",
                    f"{r.wall_s:.2f}",
                    f"{r.worker_cpu_s:.1f}",
                    f"{r.baseline_per_s:,.0f}",
                ]
                for r in report.throughput
            ],
        ),
    ]
    if report.skipped:
        lines.append(f"PostgreSQL rows skipped: {report.skipped}")
    lat = report.latency
    lines += [
        "",
        f"Event to delivery: {args.rate:g} messages/s for {args.duration:g} s,"
        " SQLite, `kurir serve`",
        table(
            ["measured", "events", "p50 ms", "p99 ms", "max ms", "not arrived"],
            [
                [
                    "Kurir",
                    lat.events,
                    f"{lat.p50_ms:.0f}",
                    f"{lat.p99_ms:.0f}",
                    f"{lat.max_ms:.0f}",
                    lat.missing,
                ],
                [
                    "plain client",
                    lat.events,
                    f"{lat.baseline_p50_ms:.0f}",
                    f"{lat.baseline_p99_ms:.0f}",
                    "-",
                    "-",
                ],
            ],
        ),
        "",
        f"Dispatch: {args.messages:,} messages over {args.devices} sandbox devices,"
        f" SQLite, one worker; {len(report.dispatch_rounds)} rounds, each without an endpoint"
        " and then with one on every event",
        table(
            ["round", "msg/s without", "msg/s with", "with / without", "webhooks sent meanwhile"],
            [
                [
                    str(n + 1),
                    f"{without:,.0f}",
                    f"{with_:,.0f}",
                    f"{ratio:.2f}",
                    f"{delivered[0]:,} of {delivered[1]:,}",
                ]
                for n, ((without, with_), ratio, delivered) in enumerate(
                    zip(
                        report.dispatch_rounds,
                        report.dispatch_ratios,
                        report.delivered_while_dispatching,
                        strict=True,
                    )
                )
            ],
        ),
        "(sends come first: the rest of the deliveries go out once the sends are done)",
        "",
    ]
    best = max((r.steady_per_s for r in report.throughput), default=0.0)
    ratio = median(report.dispatch_ratios) if report.dispatch_rounds else 0.0
    lines += [
        f"goal: deliveries/s >= {THROUGHPUT_GOAL:,.0f}: {best:,.0f} -> "
        f"{verdict(best >= THROUGHPUT_GOAL)}",
        f"goal: event-to-delivery p99 < {LATENCY_P99_GOAL_MS:.0f} ms: {lat.p99_ms:.0f} ms -> "
        f"{verdict(lat.events > 0 and lat.missing == 0 and lat.p99_ms < LATENCY_P99_GOAL_MS)}",
        f"goal: dispatch with webhooks >= {DISPATCH_RATIO_GOAL} of without, median of the rounds:"
        f" {ratio:.2f} -> "
        f"{verdict(ratio >= DISPATCH_RATIO_GOAL)}",
        f"code: {code_version()}; load average at the end: {load_average()}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="events of the throughput run")
    parser.add_argument("--endpoints", type=int, default=4, help="endpoints each event goes to")
    parser.add_argument(
        "--concurrency", type=int, default=25, help="KURIR_WEBHOOK_CONCURRENCY of the workers"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s of the latency run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the latency run")
    parser.add_argument(
        "--messages",
        type=int,
        default=20_000,
        help="messages of the dispatch run (fewer: too short to time)",
    )
    parser.add_argument("--devices", type=int, default=100, help="sandbox devices of dispatch")
    parser.add_argument(
        "--dispatch-rounds",
        type=int,
        default=3,
        help="dispatch pairs (without, then with, an endpoint); the goal is judged on the median",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on a run after this")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="kurir-bench-") as tmp:
        log_dir = Path(tmp)
        receiver = start_receiver(log_dir)
        try:
            directory = log_dir / "throughput-sqlite"
            directory.mkdir()
            report.throughput.append(
                run_throughput(sqlite_url(directory), "SQLite", receiver, args, log_dir)
            )
            report.skipped = (
                "--no-postgres was given" if args.no_postgres else postgres_unavailable_reason()
            )
            if report.skipped is None:
                with postgres_database() as url:
                    report.throughput.append(
                        run_throughput(url, "PostgreSQL", receiver, args, log_dir)
                    )
            report.latency = run_latency(receiver, args, log_dir)
            for n in range(args.dispatch_rounds):
                directory = log_dir / f"dispatch-round-{n}"
                directory.mkdir()
                without, with_, delivered = run_dispatch_pair(receiver, args, directory)
                report.dispatch_rounds.append((without, with_))
                report.delivered_while_dispatching.append(delivered)
        finally:
            receiver.stop()
    print()
    print(render(report, args))


if __name__ == "__main__":
    main()
