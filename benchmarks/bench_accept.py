"""Kurir's benchmark: the accept path of its sends and the dispatcher, in one run.

Accept path, for each of ``POST /send/button`` and ``POST /send/text`` (see
`ENDPOINTS`). A real ``kurir serve --no-dispatch`` (bootstrapped key and
device, warning-level logs) is measured against a bare Starlette+msgspec
endpoint of the same path that does no work, both served by uvicorn with
Kurir's guarded httptools protocol (``kurir.http_guard``) and no access log,
each in its own process; the load generator (``loadgen.py``) is a third
process. Two modes:

* closed loop: ``--connections`` keep-alive connections, each sending its
  next request when the last is answered: the most the server accepts;
* open loop: ``--rate`` requests/s on a fixed schedule, latency measured
  from each request's scheduled time (no coordinated omission).

Kurir answers 200 only once the message is committed, so every 200 counted
is a durable send; afterwards the messages table is counted, and it must
hold exactly one row per 200, each of the endpoint's kind. A sample of the
200s is checked to be Alat WA's exact success body for the request's recipient.

For each endpoint, the bare endpoint (uvloop) and Kurir on SQLite are
measured ``--rounds`` times, alternately (a round measures every endpoint);
the tables show each one's median round, and the ratio goal is judged on the
median of the rounds' ratios. A lone server without PostgreSQL runs on a
core of its own, the load generator on the other.

The baseline runs on uvloop, as the issue's comparison assumes, and so
does ``kurir serve``; a second bare row on the standard library loop shows
what the loop alone is worth.

Besides throughput, each row gives the server's CPU microseconds per request
(every thread, from /proc): on a machine shared with other work it moves far
less than throughput does. Bare / kurir of it is the throughput ratio if CPU
alone bound both; Kurir's also waits on its commits (an fsync each), so its
measured ratio can fall below that on a quiet machine.

Dispatch: see ``bench_dispatch.py``.

On PostgreSQL (a fresh database per measurement, created and dropped here)
the accept path runs with one and with two API processes, the load split
between them, and the dispatcher with one and two workers. Where no
PostgreSQL answers, those rows are skipped with the reason.

    .venv/bin/python benchmarks/bench_accept.py [--duration 5] [--endpoint /send/text]
"""

import argparse
import asyncio
import itertools
import json
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any, NamedTuple

import sqlalchemy as sa

from bench_dispatch import (
    DISPATCH_GOAL,
    TITLE,
    DispatchResult,
    add_arguments,
    report,
    run_suite,
)
from harness import (
    API_KEY,
    DEVICE_ID,
    DEVICE_PHONE,
    HERE,
    PYTHON,
    HttpServer,
    code_version,
    core_split,
    least_disturbed,
    load_average,
    machine_busy_seconds,
    pin_process,
    postgres_cpu_seconds,
    postgres_database,
    postgres_unavailable_reason,
    progress,
    sqlite_url,
    start_bare,
    start_kurir_serve,
    table,
    verdict,
)
from kurir.domain.content import MessageKind, decode_content, kind_of
from kurir.store import Store
from kurir.store.tables import messages

#: From the issue: one process accepts >= 5,000 durable sends/s, >= 0.6 of the bare
#: endpoint, with p99 < 25 ms at 2,000 req/s.
ACCEPT_GOAL = 5000.0
RATIO_GOAL = 0.6
P99_GOAL_MS = 25.0
#: More CPU than this used by other work during a measurement makes the run suspect.
BUSY_CORES = 0.2


class Endpoint(NamedTuple):
    """A send endpoint measured: the kind of message it stores, and what its requests say."""

    kind: MessageKind
    body: str


#: The sends measured, each against the bare endpoint of the same path (the
#: bodies are ``loadgen.BODIES``); every goal applies to each.
ENDPOINTS = {
    "/send/button": Endpoint(MessageKind.BUTTON, "the seed's example body"),
    "/send/text": Endpoint(MessageKind.TEXT, "one line of text"),
}


@dataclass
class AcceptResult:
    name: str
    #: The path loaded, a key of `ENDPOINTS`.
    endpoint: str
    database: str
    processes: int
    closed: dict[str, Any]
    open: dict[str, Any]
    #: CPU used by the server process(es) per wall second during the closed loop
    #: (1.0 is one core busy).
    server_cores_closed: float
    server_cores_open: float
    #: CPU used on the machine by anything but the server(s) and the load generator,
    #: per wall second: other work sharing the cores, which lowers every figure.
    other_cores_closed: float = 0.0
    other_cores_open: float = 0.0
    #: CPU used by PostgreSQL's processes per wall second (0 on SQLite, which is in-process).
    database_cores_closed: float = 0.0
    database_cores_open: float = 0.0
    #: Kurir only: rows in the messages table afterwards by kind (all of the
    #: endpoint's kind, as many as all 200s).
    stored: dict[str, int] | None = None
    #: CPU microseconds the server process(es) used per request answered, every
    #: thread counted. Steadier than throughput on a shared machine: other work
    #: takes cores away from a server more than it makes its requests cost more.
    server_us_per_request_closed: float = 0.0
    server_us_per_request_open: float = 0.0

    @property
    def total_ok(self) -> int:
        return int(self.closed["total_ok"]) + int(self.open["total_ok"])


def run_loadgen(
    ports: list[int],
    endpoint: str,
    args: argparse.Namespace,
    *,
    mode: str,
    strict: bool,
    core: int | None,
) -> Any:
    """One load generator process on ``endpoint``, on ``core`` if given; its JSON result."""
    argv = [
        PYTHON,
        str(HERE / "loadgen.py"),
        *(f"--port={port}" for port in ports),
        f"--path={endpoint}",
        f"--mode={mode}",
        f"--api-key={API_KEY}",
        f"--device={DEVICE_ID}",
    ]
    if mode == "closed":
        argv += [
            f"--connections={args.connections}",
            f"--duration={args.duration}",
            f"--warmup={args.warmup}",
        ]
    else:
        argv += [
            f"--connections={args.open_connections}",
            f"--duration={args.open_duration}",
            f"--warmup={args.open_warmup}",
            f"--rate={args.rate}",
        ]
    if strict:
        argv.append(f"--sender={DEVICE_PHONE}")
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=None if core is None else lambda: os.sched_setaffinity(0, {core}),
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


def measure(
    name: str,
    endpoint: str,
    database: str,
    servers: list[HttpServer],
    args: argparse.Namespace,
    *,
    strict: bool,
) -> AcceptResult:
    """Closed loop, then open loop, on ``endpoint`` of ``servers`` (the load split among them).

    One server process without PostgreSQL gets a core of its own and the load
    generator the other (see `core_split`); PostgreSQL's processes and a
    second API process need the scheduler's freedom, so those rows run unpinned.
    """
    ports = [server.port for server in servers]
    split = core_split() if args.pin and len(servers) == 1 and database != "PostgreSQL" else None
    if split is not None:
        pin_process(servers[0].pid, split[0])
    cores = {}
    per_request = {}
    others = {}
    databases = {}
    results = {}
    for mode in ("closed", "open"):
        progress(f"accept: {name}, {endpoint}, {mode} loop")
        machine_before = machine_busy_seconds()
        children_before = _children_cpu_seconds()
        server_before = sum(server.cpu_seconds() for server in servers)
        database_before = postgres_cpu_seconds() if database == "PostgreSQL" else 0.0
        wall_before = time.perf_counter()
        results[mode] = run_loadgen(
            ports,
            endpoint,
            args,
            mode=mode,
            strict=strict,
            core=None if split is None else split[1],
        )
        wall = time.perf_counter() - wall_before
        server = sum(server.cpu_seconds() for server in servers) - server_before
        client = _children_cpu_seconds() - children_before
        used = machine_busy_seconds() - machine_before
        db = postgres_cpu_seconds() - database_before if database == "PostgreSQL" else 0.0
        cores[mode] = server / wall
        # Warm-up included, as the server's CPU is: every answer the run got.
        answered = sum(results[mode]["statuses"].values())
        per_request[mode] = server / answered * 1e6 if answered else 0.0
        databases[mode] = db / wall
        others[mode] = max(0.0, used - server - client - db) / wall
        for running in servers:
            running.check_alive()
    return AcceptResult(
        name,
        endpoint,
        database,
        len(servers),
        results["closed"],
        results["open"],
        cores["closed"],
        cores["open"],
        others["closed"],
        others["open"],
        databases["closed"],
        databases["open"],
        server_us_per_request_closed=per_request["closed"],
        server_us_per_request_open=per_request["open"],
    )


def _children_cpu_seconds() -> float:
    """CPU time of reaped children: around one subprocess.run, the load generator's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _count_messages(url: str) -> dict[str, int]:
    """The stored messages by kind, as their content's ``type`` says."""
    store = Store(url, pool_size=1)
    try:
        # One endpoint's requests differ in the recipient only: few distinct contents.
        rows = await store.database.read(
            lambda connection: connection.execute(
                sa.select(messages.c.content, sa.func.count()).group_by(messages.c.content)
            ).all()
        )
    finally:
        await store.close()
    counts: dict[str, int] = {}
    for content, count in rows:
        kind = kind_of(decode_content(content)).value
        counts[kind] = counts.get(kind, 0) + int(count)
    return counts


def measure_kurir(
    name: str,
    endpoint: str,
    database: str,
    url: str,
    processes: int,
    args: argparse.Namespace,
    log_dir: Path,
) -> AcceptResult:
    # One after the other: the first applies the migrations and bootstraps the key.
    servers = [
        start_kurir_serve(url, log_dir, f"serve-{database.lower()}-{processes}-{n}")
        for n in range(processes)
    ]
    try:
        result = measure(name, endpoint, database, servers, args, strict=True)
    finally:
        for server in servers:
            server.stop()
    result.stored = asyncio.run(_count_messages(url))
    return result


def measure_bare(loop: str, endpoint: str, args: argparse.Namespace, log_dir: Path) -> AcceptResult:
    server = start_bare(log_dir, loop)
    try:
        name = f"bare Starlette+msgspec ({loop})"
        return measure(name, endpoint, "-", [server], args, strict=False)
    finally:
        server.stop()


@dataclass
class AcceptSuite:
    #: The paths measured, in the order of `ENDPOINTS`.
    endpoints: list[str]
    #: The rows of the tables, endpoint by endpoint: for the bare endpoint
    #: (uvloop) and Kurir on SQLite, each one's median round by closed-loop throughput.
    results: list[AcceptResult]
    #: Every round of the bare endpoint (uvloop), by endpoint.
    bare_rounds: dict[str, list[AcceptResult]]
    #: Every round of Kurir on SQLite, by endpoint, for the stored-equals-answered check.
    sqlite_rounds: dict[str, list[AcceptResult]]
    #: Kurir on SQLite against the bare endpoint, closed loop, round by round, by endpoint.
    ratios: dict[str, list[float]]
    #: Why the PostgreSQL rows are missing, if they are.
    skipped: str | None

    def ratio(self, endpoint: str) -> float:
        return median(self.ratios[endpoint])


def median_round(rounds: list[AcceptResult]) -> AcceptResult:
    return sorted(rounds, key=lambda r: float(r.closed["ok_per_s"]))[len(rounds) // 2]


def accept_suite(args: argparse.Namespace, log_dir: Path) -> AcceptSuite:
    databases = itertools.count()
    endpoints: list[str] = args.endpoints

    def settled(attempt: Callable[[int], AcceptResult]) -> AcceptResult:
        return least_disturbed(attempt, _disturbance, args.busy_retries, BUSY_CORES)

    def bare(loop: str, endpoint: str) -> AcceptResult:
        return settled(lambda _n: measure_bare(loop, endpoint, args, log_dir))

    def sqlite(endpoint: str) -> Callable[[int], AcceptResult]:
        def attempt(_n: int) -> AcceptResult:
            directory = log_dir / f"accept-sqlite-{next(databases)}"
            directory.mkdir()
            name = "kurir serve, SQLite"
            return measure_kurir(name, endpoint, "SQLite", sqlite_url(directory), 1, args, log_dir)

        return attempt

    def postgres(endpoint: str, processes: int) -> Callable[[int], AcceptResult]:
        def attempt(_n: int) -> AcceptResult:
            with postgres_database() as url:
                name = f"kurir serve, PostgreSQL x{processes}"
                return measure_kurir(name, endpoint, "PostgreSQL", url, processes, args, log_dir)

        return attempt

    # Alternated, so that a slow spell of the shared machine falls on both
    # sides of a round rather than on one side of the comparison.
    bare_rounds: dict[str, list[AcceptResult]] = {endpoint: [] for endpoint in endpoints}
    sqlite_rounds: dict[str, list[AcceptResult]] = {endpoint: [] for endpoint in endpoints}
    # Which side goes first alternates too: a machine growing busier or quieter
    # through a run then favours neither.
    for round_number in range(args.rounds):
        for endpoint in endpoints:
            if round_number % 2 == 0:
                bare_rounds[endpoint].append(bare("uvloop", endpoint))
                sqlite_rounds[endpoint].append(settled(sqlite(endpoint)))
            else:
                sqlite_rounds[endpoint].append(settled(sqlite(endpoint)))
                bare_rounds[endpoint].append(bare("uvloop", endpoint))
    ratios = {
        endpoint: [
            float(k.closed["ok_per_s"]) / float(b.closed["ok_per_s"])
            for b, k in zip(bare_rounds[endpoint], sqlite_rounds[endpoint], strict=True)
        ]
        for endpoint in endpoints
    }
    skipped = "--no-postgres was given" if args.no_postgres else postgres_unavailable_reason()
    results = []
    for endpoint in endpoints:
        results.append(median_round(bare_rounds[endpoint]))
        if not args.no_asyncio_baseline:
            results.append(bare("asyncio", endpoint))
        results.append(median_round(sqlite_rounds[endpoint]))
        if skipped is None:
            for processes in (1, 2):
                results.append(settled(postgres(endpoint, processes)))
    return AcceptSuite(endpoints, results, bare_rounds, sqlite_rounds, ratios, skipped)


def _disturbance(result: AcceptResult) -> float:
    return max(result.other_cores_closed, result.other_cores_open)


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _stored(result: AcceptResult, stored: dict[str, int]) -> str:
    """What was stored against what was answered, e.g. ``12,345 text (equal)``."""
    kind = ENDPOINTS[result.endpoint].kind.value
    expected = {kind: result.total_ok} if result.total_ok else {}
    counts = ", ".join(f"{n:,} {stored_kind}" for stored_kind, n in stored.items()) or "none"
    return f"{counts} ({'equal' if stored == expected else 'DIFFERENT'})"


def accept_report(suite: AcceptSuite) -> str:
    results = suite.results
    bare_rates = {
        endpoint: float(median_round(rounds).closed["ok_per_s"])
        for endpoint, rounds in suite.bare_rounds.items()
    }
    closed_rows = []
    open_rows = []
    for r in results:
        c, o = r.closed, r.open
        bare_rate = bare_rates[r.endpoint]
        closed_rows.append(
            [
                r.endpoint,
                r.name,
                r.processes,
                f"{c['ok_per_s']:,.0f}",
                f"{c['ok_per_s'] / bare_rate:.2f}" if bare_rate else "-",
                _ms(c["p50_ms"]),
                _ms(c["p90_ms"]),
                _ms(c["p99_ms"]),
                _ms(c["max_ms"]),
                f"{c['non_200'] + c['errors']:,}",
                f"{r.server_us_per_request_closed:.1f}",
                f"{r.server_cores_closed:.2f}",
                f"{c['client_cpu_s'] / c['client_wall_s']:.2f}",
                f"{r.database_cores_closed:.2f}",
                f"{r.other_cores_closed:.2f}",
            ]
        )
        open_rows.append(
            [
                r.endpoint,
                r.name,
                r.processes,
                f"{o['ok_per_s']:,.0f}",
                _ms(o["p50_ms"]),
                _ms(o["p90_ms"]),
                _ms(o["p99_ms"]),
                _ms(o["max_ms"]),
                _ms(o["send_lag_p99_ms"]),
                f"{o['non_200'] + o['errors']:,}",
                f"{r.server_us_per_request_open:.1f}",
                f"{r.server_cores_open:.2f}",
                f"{r.database_cores_open:.2f}",
                f"{r.other_cores_open:.2f}",
            ]
        )
    closed = results[0].closed
    opened = results[0].open
    lines = [
        f"Closed loop: {closed['connections']} keep-alive connections, "
        f"{closed['window_s']:.0f} s measured after a warm-up; x bare: against the bare "
        "endpoint (uvloop) of the same path",
        table(
            [
                "endpoint",
                "target",
                "procs",
                "200/s",
                "x bare",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "non-200",
                "server us/req",
                "server cores",
                "client cores",
                "pg cores",
                "other cores",
            ],
            closed_rows,
            left=2,
        ),
        "",
        f"Open loop: {opened['rate']:,.0f} req/s scheduled, {opened['window_s']:.0f} s measured, "
        f"up to {opened['connections']} connections; latency from the scheduled time",
        table(
            [
                "endpoint",
                "target",
                "procs",
                "200/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "client lag p99",
                "non-200",
                "server us/req",
                "server cores",
                "pg cores",
                "other cores",
            ],
            open_rows,
            left=2,
        ),
    ]
    if suite.skipped is not None:
        lines.append(f"PostgreSQL rows skipped: {suite.skipped}")
    rounds = len(next(iter(suite.ratios.values())))
    lines.append(
        f"bare (uvloop) and kurir serve, SQLite: {rounds} rounds, alternately, each round "
        "measuring every endpoint; the rows above are each one's median round"
    )
    sqlite_rounds = [r for endpoint in suite.endpoints for r in suite.sqlite_rounds[endpoint]]
    for r in [r for r in results if r.database != "SQLite"] + sqlite_rounds:
        for mode, figures in (("closed", r.closed), ("open", r.open)):
            if figures["samples_bad"]:
                lines.append(
                    f"WARNING {r.name}, {r.endpoint} ({mode}): {figures['samples_bad']} of "
                    f"{figures['samples_checked']} sampled 200s were not Alat WA's success "
                    f"body: {figures['bad_examples']}"
                )
            if figures["error_examples"]:
                lines.append(
                    f"WARNING {r.name}, {r.endpoint} ({mode}): {figures['error_examples']}"
                )
        checked = r.closed["samples_checked"] + r.open["samples_checked"]
        if r.stored is not None:
            lines.append(
                f"{r.name}, {r.endpoint}: {r.total_ok:,} answers 200, messages stored: "
                f"{_stored(r, r.stored)}; {checked} sampled bodies checked"
            )
    for endpoint in suite.endpoints:
        sqlite = median_round(suite.sqlite_rounds[endpoint])
        rate = float(sqlite.closed["ok_per_s"])
        ratio = suite.ratio(endpoint)
        p99s = [float(r.open["p99_ms"]) for r in suite.sqlite_rounds[endpoint]]
        p99 = median(p99s)
        kurir_us = median(r.server_us_per_request_closed for r in suite.sqlite_rounds[endpoint])
        bare_us = median(r.server_us_per_request_closed for r in suite.bare_rounds[endpoint])
        lines += [
            "",
            f"{endpoint}: kurir serve, SQLite / bare (uvloop), closed loop, by round: "
            + ", ".join(f"{value:.2f}" for value in suite.ratios[endpoint]),
            f"{endpoint}: kurir serve, SQLite, open loop p99 ms by round: "
            + ", ".join(f"{value:.1f}" for value in p99s),
            f"goal ({endpoint}): one process (SQLite) accepts >= {ACCEPT_GOAL:,.0f} durable "
            f"sends/s, median round: {rate:,.0f} -> {verdict(rate >= ACCEPT_GOAL)}",
            f"goal ({endpoint}): >= {RATIO_GOAL} of the bare endpoint (uvloop), median of the "
            f"rounds: {ratio:.3f} -> {verdict(ratio >= RATIO_GOAL)}",
            f"{endpoint}: server CPU per request, closed loop, median of the rounds: kurir "
            f"serve, SQLite {kurir_us:.1f} us, bare {bare_us:.1f} us (bare / kurir: "
            f"{bare_us / kurir_us if kurir_us else 0.0:.2f}: the throughput ratio if CPU "
            "alone bound both)",
            f"goal ({endpoint}): p99 < {P99_GOAL_MS:.0f} ms at {opened['rate']:,.0f} req/s, "
            f"median of the rounds: {p99:.1f} ms -> {verdict(p99 < P99_GOAL_MS)}",
        ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="bare (uvloop) and Kurir on SQLite, each measured this often on each endpoint, "
        "alternately",
    )
    parser.add_argument(
        "--endpoint",
        dest="endpoints",
        action="append",
        choices=list(ENDPOINTS),
        help="measure only this send endpoint (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="leave every process to the scheduler (see harness.core_split)",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="closed loop: measured s")
    parser.add_argument("--warmup", type=float, default=1.0, help="closed loop: warm-up s")
    parser.add_argument("--connections", type=int, default=64, help="closed loop: connections")
    parser.add_argument("--rate", type=float, default=2000.0, help="open loop: requests/s")
    parser.add_argument("--open-duration", type=float, default=4.0, help="open loop: measured s")
    parser.add_argument("--open-warmup", type=float, default=0.5, help="open loop: warm-up s")
    parser.add_argument(
        "--open-connections", type=int, default=64, help="open loop: most connections in use"
    )
    add_arguments(parser)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-dispatch", action="store_true", help="the accept path only")
    parser.add_argument("--no-accept", action="store_true", help="the dispatcher only")
    parser.add_argument(
        "--no-asyncio-baseline", action="store_true", help="skip the bare endpoint on asyncio"
    )
    parser.add_argument(
        "--busy-retries",
        type=int,
        default=1,
        help="measure a row again (keeping the least disturbed) when other work on the "
        f"machine used more than {BUSY_CORES} cores meanwhile",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--keep-logs", type=Path, help="keep the server logs in this directory (else deleted)"
    )
    args = parser.parse_args()
    # In the order of ENDPOINTS whatever the order given, so every run's tables read alike.
    args.endpoints = [e for e in ENDPOINTS if args.endpoints is None or e in args.endpoints]
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    load_before = load_average()
    suite: AcceptSuite | None = None
    dispatch: list[DispatchResult] = []
    dispatch_skipped = None
    with tempfile.TemporaryDirectory(prefix="kurir-bench-") as tmp:
        log_dir = args.keep_logs or Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        if not args.no_accept:
            suite = accept_suite(args, log_dir)
        if not args.no_dispatch:
            dispatch, dispatch_skipped = run_suite(args, log_dir)
    print()
    accept = [] if suite is None else suite.results
    if suite is not None:
        print(
            "Accept path: " + "; ".join(f"POST {e} ({ENDPOINTS[e].body})" for e in suite.endpoints)
        )
        print(accept_report(suite))
        print()
    if dispatch:
        print(TITLE.format(messages=args.messages, devices=args.devices))
        print(report(dispatch, dispatch_skipped, DISPATCH_GOAL))
        print()
    others = [r.other_cores_closed for r in accept] + [r.other_cores_open for r in accept]
    others += [r.other_cores for r in dispatch]
    if others and max(others) > BUSY_CORES:
        print(
            f"WARNING: other work on the machine used up to {max(others):.2f} of its "
            f"{os.cpu_count()} cores during the measurements (see 'other cores'); those "
            "figures are lower than an idle machine gives. Run again when it is idle."
        )
    print(f"code: {code_version()}")
    print(
        f"machine: {os.cpu_count()} cores; load average {load_before} before the run, "
        f"{load_average()} after; the whole run took {time.perf_counter() - started:.0f} s"
    )
    print(
        "cores: CPU seconds per wall second of the server(s), the load generator, PostgreSQL, "
        "and everything else on the machine ('other': work that competes for the cores)"
    )
    split = core_split() if args.pin else None
    if split is not None:
        print(
            f"pinned: a lone server without PostgreSQL (bare, SQLite) runs on core {split[0]}, "
            f"its load generator on core {split[1]}; PostgreSQL rows are not pinned"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "accept": [asdict(r) for r in accept],
                    "accept_ratios": {} if suite is None else suite.ratios,
                    "dispatch": [asdict(r) for r in dispatch],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
