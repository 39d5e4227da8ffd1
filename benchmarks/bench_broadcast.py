"""Broadcasts: creating one of 100,000 receivers, and reading it while it is sent.

For each database a real ``kurir serve`` (with its dispatcher) on a fresh
database gets one ``POST /broadcast/create`` of ``--receivers`` receivers,
each a distinct number written nationally (``0812…``, as Indonesian senders
write them) with a spintax and placeholder text, ``interval_from`` and
``interval_to`` 0 so that its bootstrap sandbox device sends as fast as it
can. Measured:

* the time from sending the request to its answer (goal: under 5 s), and the
  server's resident memory while it is answered (goal: under 300 MB);
* ``GET /broadcast/{id}`` issued back to back while the broadcast is sent
  (goal: p99 under 20 ms), with how far sending had got.

Usage: ``.venv/bin/python benchmarks/bench_broadcast.py [--receivers 100000]
[--duration 20] [--no-postgres]``. It takes about a minute per database at
the default size.
"""

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec

from harness import (
    API_KEY,
    HOST,
    PYTHON,
    HttpServer,
    code_version,
    kurir_env,
    load_average,
    percentile,
    postgres_database,
    postgres_unavailable_reason,
    progress,
    rss_megabytes,
    sampling_rss,
    sqlite_url,
    start_server,
    table,
    verdict,
)

CREATE_GOAL_S = 5.0
RSS_GOAL_MB = 300.0
GET_GOAL_MS = 20.0
TEMPLATE = "{Halo|Hai|Selamat pagi} {name}, {promo|diskon} {opt1} {hari ini|minggu ini}!"


@dataclass
class Result:
    database: str
    receivers: int
    create_s: float = 0.0
    rss_before_mb: float = 0.0
    rss_max_mb: float = 0.0
    get_ms: list[float] = field(default_factory=list)
    #: Messages delivered when the probing began and when it ended.
    delivered_from: int = 0
    delivered_to: int = 0


def body(receivers: int) -> bytes:
    return msgspec.json.encode(
        {
            "device": "default",
            "title": "bench",
            "interval_from": 0,
            "interval_to": 0,
            "receiver": [
                {"phone": f"0812{n:08d}", "message": TEMPLATE, "name": f"N{n}", "opt1": "VIP"}
                for n in range(receivers)
            ],
        }
    )


def start_kurir(database_url: str, log_dir: Path, name: str) -> HttpServer:
    """``kurir serve`` with its dispatcher: the broadcast is sent while it is read."""
    return start_server(
        name,
        lambda _port: [PYTHON, "-m", "kurir", "serve"],
        log_dir,
        lambda port: kurir_env(database_url, KURIR_PORT=str(port)),
    )


def measure(database: str, url: str, args: argparse.Namespace, log_dir: Path) -> Result:
    result = Result(database, args.receivers)
    payload = body(args.receivers)
    progress(f"{database}: {len(payload) / 1e6:.1f} MB body of {args.receivers:,} receivers")
    server = start_kurir(url, log_dir, f"kurir-{database.lower()}")
    try:
        headers = {"Authorization": API_KEY, "Content-Type": "application/json"}
        base = f"http://{HOST}:{server.port}"
        with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
            result.rss_before_mb = rss_megabytes(server.pid)
            samples: list[float] = []
            with sampling_rss(server.pid, samples, every_s=0.05):
                started = time.perf_counter()
                response = http.post("/broadcast/create", content=payload)
                result.create_s = time.perf_counter() - started
            result.rss_max_mb = max(samples)
            answer = response.json()
            if response.status_code != 200 or answer["total_receiver"] != args.receivers:
                raise RuntimeError(f"the broadcast was not created: {response.text[:500]}")
            progress(f"{database}: created in {result.create_s:.2f} s; reading it while sent")
            path = f"/broadcast/{answer['broadcast_id']}"
            deadline = time.monotonic() + args.duration
            while time.monotonic() < deadline:
                started = time.perf_counter()
                got = http.get(path)
                result.get_ms.append((time.perf_counter() - started) * 1000)
                totals = got.json()["data"]["totals"]
                delivered = totals["delivered"] + totals["read"]
                if len(result.get_ms) == 1:
                    result.delivered_from = delivered
                result.delivered_to = delivered
                if delivered == args.receivers:
                    break
            server.check_alive()
    finally:
        server.stop()
    return result


def report(results: list[Result], skipped: str | None) -> str:
    rows = []
    for result in results:
        ms = sorted(result.get_ms)
        rows.append(
            [
                result.database,
                f"{result.receivers:,}",
                f"{result.create_s:.2f}",
                f"{result.rss_before_mb:.0f} -> {result.rss_max_mb:.0f}",
                len(ms),
                f"{percentile(ms, 0.5):.1f}",
                f"{percentile(ms, 0.99):.1f}",
                f"{ms[-1]:.1f}" if ms else "-",
                f"{result.delivered_from:,} -> {result.delivered_to:,}",
            ]
        )
    lines = [
        table(
            [
                "database",
                "receivers",
                "create s",
                "server RSS MB",
                "GETs",
                "GET p50 ms",
                "GET p99 ms",
                "GET max ms",
                "delivered meanwhile",
            ],
            rows,
        ),
        "",
    ]
    for result in results:
        p99 = percentile(sorted(result.get_ms), 0.99)
        lines.append(
            f"{result.database}: create {result.create_s:.2f} s against {CREATE_GOAL_S:g} s "
            f"({verdict(result.create_s < CREATE_GOAL_S)}); RSS at most "
            f"{result.rss_max_mb:.0f} MB against {RSS_GOAL_MB:g} "
            f"({verdict(result.rss_max_mb < RSS_GOAL_MB)}); GET p99 {p99:.1f} ms against "
            f"{GET_GOAL_MS:g} ({verdict(p99 < GET_GOAL_MS)})"
        )
    if skipped is not None:
        lines.append(f"PostgreSQL not measured: {skipped}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receivers", type=int, default=100_000, help="receivers of the broadcast")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of reading it while it is sent"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()

    started = time.perf_counter()
    load_before = load_average()
    skipped = "--no-postgres was given" if args.no_postgres else postgres_unavailable_reason()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="kurir-bench-broadcast-") as tmp:
        directory = Path(tmp)
        results.append(measure("SQLite", sqlite_url(directory), args, directory))
        if skipped is None:
            with postgres_database() as url:
                results.append(measure("PostgreSQL", url, args, directory))
    print(f"\nBroadcast of {args.receivers:,} receivers on the bootstrap sandbox device")
    print(report(results, skipped))
    print(f"code: {code_version()}")
    print(
        f"machine: {os.cpu_count()} cores; load average {load_before} before the run, "
        f"{load_average()} after; the whole run took {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
