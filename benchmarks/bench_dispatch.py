"""Dispatch throughput: how fast ``kurir worker`` sends due messages through the sandbox.

A fresh database is filled with ``--messages`` due messages spread over
``--devices`` sandbox devices, text and button messages in turn (through
``kurir.store``, as the accept path stores them), then ``kurir worker``
processes are started on it and a separate read connection polls how many
messages have reached ``sent`` or beyond, until all have.

Two rates are reported: *steady*, from the first sent message to the last
(what the dispatcher sustains), and *wall*, from starting the worker
processes (so including interpreter start and the schema check). As a floor
for the database alone, the same number of single-row UPDATEs is then run in
transactions of ``--devices`` rows each, which is the size of the group
commits the dispatcher makes when every device has one send in flight.

With ``webhook_url`` (`run_dispatch`), the account also has one webhook
endpoint there subscribed to every event, and the workers deliver each
message's status events while they send: ``benchmarks/bench_webhooks.py``
sets the two figures side by side.

Run alone (``python benchmarks/bench_dispatch.py``) or as part of
``benchmarks/bench_accept.py``.
"""

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection

from harness import (
    Process,
    least_disturbed,
    machine_busy_seconds,
    postgres_cpu_seconds,
    postgres_database,
    postgres_unavailable_reason,
    progress,
    sqlite_url,
    start_kurir_worker,
    table,
    verdict,
)
from kurir.clock import now_ms
from kurir.domain.buttons import build_button_message
from kurir.domain.content import WHATSAPP_LIMITS, build_text_message, encode_content
from kurir.domain.events import EVENTS
from kurir.domain.ids import new_message_id
from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting, accounts
from kurir.store.migrate import upgrade_to_head
from kurir.store.records import NewMessage
from kurir.store.tables import devices, messages
from kurir.store.webhook_endpoints import create_endpoint
from kurir.transports.sandbox.store import sandbox_deliveries

_DONE = [MessageStatus.SENT.value, MessageStatus.DELIVERED.value, MessageStatus.READ.value]
_POLL_S = 0.05
#: More CPU than this used by other work during a run makes it suspect.
BUSY_CORES_DISPATCH = 0.2
#: From the issue: the dispatcher sends >= 2,000 messages/s across 100 sandbox devices.
DISPATCH_GOAL = 2000.0
#: The heading of the report, ``str.format``-ted with the run's figures.
TITLE = (
    "Dispatch: {messages:,} due messages, text and buttons in turn, over {devices} sandbox devices"
)


@dataclass
class DispatchResult:
    database: str
    workers: int
    messages: int
    devices: int
    done: int = 0
    failed: int = 0
    deliveries: int = 0
    steady_per_s: float = 0.0
    wall_per_s: float = 0.0
    seconds_to_first: float = 0.0
    seconds_total: float = 0.0
    timed_out: bool = False
    #: How many devices each worker held when half the messages were sent.
    devices_per_worker: list[int] = field(default_factory=list)
    #: CPU seconds each worker process used, from its start to the end of the run.
    worker_cpu_s: list[float] = field(default_factory=list)
    #: CPU per wall second of PostgreSQL, and of everything else on the machine but
    #: the workers and this script's polling (other work sharing the cores).
    database_cores: float = 0.0
    other_cores: float = 0.0
    floor_updates_per_s: float = 0.0


# -- filling the database ------------------------------------------------------


def button_content() -> str:
    """A message's stored content: the seed's example request, as the API stores it."""
    return encode_content(
        build_button_message(
            header="Header",
            body="Pilih salah satu:",
            footer="Footer",
            buttons=["Opsi 1", "Opsi 2", "Opsi 3"],
            limits=WHATSAPP_LIMITS.buttons,
        )
    )


def text_content() -> str:
    """A text message's stored content, as the API stores it."""
    return encode_content(
        build_text_message(message="Halo, pesanan Anda sudah dikirim.", limits=WHATSAPP_LIMITS)
    )


#: The benchmarks' recipients: a business writing to its customers again and again.
RECIPIENTS = [f"6281111111{10 + n:02d}" for n in range(16)]


async def insert_due_messages(
    store: Store,
    account_id: int,
    device_ids: list[int],
    count: int,
    *,
    status: str,
    now: int,
) -> None:
    """``count`` messages due ``now``, spread over ``device_ids``, a thousand a transaction.

    Each device's queue alternates between text and buttons.
    """
    contents = [text_content(), button_content()]
    for start in range(0, count, 1000):
        batch = [
            NewMessage(
                message_id=new_message_id(),
                account_id=account_id,
                device_id=device_ids[i % len(device_ids)],
                recipient=RECIPIENTS[i % len(RECIPIENTS)],
                content=contents[i // len(device_ids) % len(contents)],
                status=status,
                due_at=now,
                created_at=now,
            )
            for i in range(start, min(count, start + 1000))
        ]
        await store.write(accepting.insert_messages, batch)


async def _prefill(
    url: str, device_count: int, message_count: int, webhook_url: str | None
) -> None:
    store = Store(url, pool_size=2)
    try:
        now = now_ms()

        def add_devices(connection: Connection) -> tuple[int, list[int]]:
            account = accounts.create_account(connection, name="bench", now=now)
            added = [
                accounts.add_device(
                    connection,
                    public_id=f"bench-{n:03d}",
                    account_id=account.id,
                    phone=f"62812{n:07d}",
                    transport="sandbox",
                    created_at=now,
                )
                for n in range(device_count)
            ]
            if webhook_url is not None:
                create_endpoint(
                    connection,
                    account_id=account.id,
                    url=webhook_url,
                    events=EVENTS,
                    devices=None,
                    now=now,
                )
            return account.id, [device.id for device in added]

        account_id, device_ids = await store.database.write(add_devices)
        await insert_due_messages(
            store, account_id, device_ids, message_count, status=MessageStatus.QUEUED, now=now
        )
    finally:
        await store.close()


def prefill(
    url: str, device_count: int, message_count: int, webhook_url: str | None = None
) -> None:
    """Devices and due messages; with ``webhook_url``, an endpoint hearing of every event."""
    upgrade_to_head(url)
    asyncio.run(_prefill(url, device_count, message_count, webhook_url))


# -- watching the workers ------------------------------------------------------


def _progress(connection: Connection) -> tuple[int, int]:
    """(messages sent or further, messages failed)."""
    rows = connection.execute(
        sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
    )
    counts = {str(status): int(n) for status, n in rows}
    return sum(counts.get(s, 0) for s in _DONE), counts.get(MessageStatus.FAILED.value, 0)


def _owners(connection: Connection) -> list[int]:
    rows = connection.execute(
        sa.select(sa.func.count())
        .select_from(devices)
        .where(devices.c.lease_owner.is_not(None), devices.c.lease_until > now_ms())
        .group_by(devices.c.lease_owner)
    )
    return sorted((int(n) for (n,) in rows), reverse=True)


def _deliveries(connection: Connection) -> int:
    rows = connection.execute(sa.select(sa.func.count()).select_from(sandbox_deliveries))
    return int(rows.scalar_one())


async def _watch(
    url: str, result: DispatchResult, started: float, deadline: float, workers: list[Process]
) -> None:
    store = Store(url, pool_size=1)
    try:
        first_at: float | None = None
        done_at_first = 0
        while True:
            done, failed = await store.read(_progress)
            now = time.perf_counter()
            if done > 0 and first_at is None:
                first_at, done_at_first = now, done
            if not result.devices_per_worker and done >= result.messages // 2:
                owned = await store.read(_owners)
                # A worker that holds no device does not show up: it counts 0.
                result.devices_per_worker = owned + [0] * (len(workers) - len(owned))
            result.done, result.failed = done, failed
            if done + failed >= result.messages or now > deadline:
                result.timed_out = done + failed < result.messages
                break
            for worker in workers:
                worker.check_alive()
            await asyncio.sleep(_POLL_S)
        result.seconds_total = now - started
        result.wall_per_s = done / result.seconds_total
        if first_at is not None:
            result.seconds_to_first = first_at - started
            if now > first_at:
                result.steady_per_s = (done - done_at_first) / (now - first_at)
        result.deliveries = await store.read(_deliveries)
    finally:
        await store.close()


# -- the floor: the same number of single-row UPDATEs, in group commits ----------


async def _floor(url: str, per_commit: int) -> float:
    store = Store(url, pool_size=1)
    try:
        pks = await store.database.read(
            lambda connection: list(connection.execute(sa.select(messages.c.id)).scalars())
        )
        statement = (
            messages.update()
            .where(messages.c.id == sa.bindparam("pk"))
            .values(provider_message_id=sa.bindparam("provider_id"))
        )
        started = time.perf_counter()
        for start in range(0, len(pks), per_commit):
            chunk = pks[start : start + per_commit]
            params = [{"pk": pk, "provider_id": f"floor-{pk}"} for pk in chunk]

            def update(connection: Connection, params: list[dict[str, object]] = params) -> None:
                connection.execute(statement, params)

            await store.database.write(update)
        return len(pks) / (time.perf_counter() - started)
    finally:
        await store.close()


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- one run -------------------------------------------------------------------


def run_dispatch(
    url: str,
    database: str,
    *,
    workers: int,
    message_count: int,
    device_count: int,
    timeout: float,
    log_dir: Path,
    floor: bool = True,
    webhook_url: str | None = None,
    worker_env: dict[str, str] | None = None,
) -> DispatchResult:
    """Fill ``url``, start ``workers`` workers on it, and time them until all is sent.

    ``webhook_url``: see `prefill`; ``worker_env``: more ``KURIR_*`` settings
    of the workers (a receiver on loopback needs ``KURIR_ALLOW_PRIVATE_URLS``).
    """
    prefill(url, device_count, message_count, webhook_url)
    result = DispatchResult(database, workers, message_count, device_count)
    started = time.perf_counter()
    processes = [
        start_kurir_worker(
            url, log_dir, f"worker-{database.lower()}-{workers}-{n}", **(worker_env or {})
        )
        for n in range(workers)
    ]
    machine_before = machine_busy_seconds()
    database_before = postgres_cpu_seconds() if database == "PostgreSQL" else 0.0
    own_before = _own_cpu_seconds()
    try:
        asyncio.run(_watch(url, result, started, started + timeout, processes))
        result.worker_cpu_s = [p.cpu_seconds() for p in processes]
        used = machine_busy_seconds() - machine_before
        db = postgres_cpu_seconds() - database_before if database == "PostgreSQL" else 0.0
        own = _own_cpu_seconds() - own_before
        wall = time.perf_counter() - started
        result.database_cores = db / wall
        result.other_cores = max(0.0, used - sum(result.worker_cpu_s) - db - own) / wall
    finally:
        for process in processes:
            process.stop()
    if floor:
        result.floor_updates_per_s = asyncio.run(_floor(url, device_count))
    return result


def run_suite(args: argparse.Namespace, log_dir: Path) -> tuple[list[DispatchResult], str | None]:
    """SQLite with one worker; PostgreSQL with one and two, when it can be reached.

    Returns the results and, when PostgreSQL was skipped, why.
    """

    def one(url: str, database: str, workers: int) -> DispatchResult:
        progress(f"dispatch: {database}, {workers} worker(s), {args.messages:,} messages")
        return run_dispatch(
            url,
            database,
            workers=workers,
            message_count=args.messages,
            device_count=args.devices,
            timeout=args.dispatch_timeout,
            log_dir=log_dir,
        )

    def settled(attempt: Callable[[int], DispatchResult]) -> DispatchResult:
        return least_disturbed(
            attempt, lambda r: r.other_cores, args.busy_retries, BUSY_CORES_DISPATCH
        )

    def sqlite(n: int) -> DispatchResult:
        directory = log_dir / f"dispatch-sqlite-{n}"
        directory.mkdir()
        return one(sqlite_url(directory), "SQLite", 1)

    def postgres(workers: int) -> Callable[[int], DispatchResult]:
        def attempt(_n: int) -> DispatchResult:
            with postgres_database() as url:
                return one(url, "PostgreSQL", workers)

        return attempt

    results = [settled(sqlite)]
    skipped = "--no-postgres was given" if args.no_postgres else postgres_unavailable_reason()
    if skipped is None:
        for workers in (1, 2):
            results.append(settled(postgres(workers)))
    return results, skipped


def report(results: list[DispatchResult], skipped: str | None, goal: float) -> str:
    rows = []
    for r in results:
        rows.append(
            [
                r.database,
                r.workers,
                f"{r.done:,}/{r.messages:,}" + (" (timed out)" if r.timed_out else ""),
                f"{r.failed:,}",
                f"{r.steady_per_s:,.0f}",
                f"{r.wall_per_s:,.0f}",
                f"{r.seconds_to_first:.2f}",
                f"{r.seconds_total:.2f}",
                "/".join(str(n) for n in r.devices_per_worker) or "-",
                "/".join(f"{c:.1f}" for c in r.worker_cpu_s),
                f"{r.database_cores:.2f}",
                f"{r.other_cores:.2f}",
                f"{r.floor_updates_per_s:,.0f}",
            ]
        )
    lines = [
        table(
            [
                "database",
                "workers",
                "sent",
                "failed",
                "msg/s steady",
                "msg/s wall",
                "first s",
                "total s",
                "devices/worker",
                "worker CPU s",
                "pg cores",
                "other cores",
                "floor UPDATE/s",
            ],
            rows,
        )
    ]
    if skipped is not None:
        lines.append(f"PostgreSQL rows skipped: {skipped}")
    for r in results:
        if r.deliveries != r.done:
            lines.append(
                f"WARNING {r.database}/{r.workers}: {r.deliveries:,} sandbox deliveries "
                f"for {r.done:,} sent messages"
            )
    sqlite = next((r for r in results if r.database == "SQLite"), None)
    if sqlite is not None:
        lines.append(
            f"goal: dispatcher >= {goal:,.0f} msg/s across {sqlite.devices} sandbox devices "
            f"(SQLite, steady): {sqlite.steady_per_s:,.0f} -> "
            f"{verdict(sqlite.steady_per_s >= goal)}"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=20_000, help="due messages to send")
    parser.add_argument("--devices", type=int, default=100, help="sandbox devices")
    parser.add_argument(
        "--dispatch-timeout", type=float, default=60.0, help="give up on one run after this"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--busy-retries", type=int, default=1, help="runs again when other work disturbed it"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kurir-bench-") as tmp:
        results, skipped = run_suite(args, Path(tmp))
    print(f"\n{TITLE.format(messages=args.messages, devices=args.devices)}")
    print(report(results, skipped, DISPATCH_GOAL))


if __name__ == "__main__":
    main()
