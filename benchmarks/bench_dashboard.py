"""The dashboard's message list and message page with a million messages.

For each database a fresh one gets the benchmark's account (and a second
account whose messages the first must never see) with four sandbox devices
and ``--messages`` messages written straight into the table (through the
API a million would take long), spread over the devices, 1,000 recipients,
every status and two kinds, one a millisecond up to now. Then
``kurir serve --no-dispatch`` starts on it, a client signs in as a browser
would (the sign-in form, its CSRF token, the session cookie), and each page
below is fetched ``--requests`` times back to back. Goal: every page's p99
under 100 ms.

* the newest page, unfiltered; filtered by device, status, recipient, kind
  and time; a page deep in the list (by its cursor); and
* a message's page, of messages chosen at random.

Usage: ``.venv/bin/python benchmarks/bench_dashboard.py [--messages 1000000]
[--requests 200] [--no-postgres]``.
"""

import argparse
import asyncio
import random
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import httpx

from bench_dispatch import button_content
from harness import (
    API_KEY,
    HttpServer,
    code_version,
    load_average,
    percentile,
    postgres_database,
    postgres_unavailable_reason,
    progress,
    sqlite_url,
    start_kurir_serve,
    table,
    verdict,
)
from kurir.clock import now_ms
from kurir.domain.content import WHATSAPP_LIMITS, build_text_message, encode_content
from kurir.store import Store, accounts
from kurir.store.migrate import upgrade_to_head

GOAL_MS = 100.0
CHUNK = 50_000
DEVICES = ("dash-a", "dash-b", "dash-c", "dash-d")
RECIPIENTS = 1_000
#: Statuses in the proportions of a busy gateway's history: mostly read and delivered.
STATUSES = ("read",) * 5 + ("delivered",) * 3 + ("sent", "failed", "queued", "cancelled")
_COLUMNS = (
    "message_id",
    "account_id",
    "device_id",
    "recipient",
    "content",
    "status",
    "due_at",
    "attempts",
    "created_at",
    "sent_at",
)


def recipient(n: int) -> str:
    return f"62811{n % RECIPIENTS:07d}"


async def _provision(url: str, now: int) -> tuple[int, list[int], int, int]:
    """The accounts and devices: ``(account, its device ids, other account, its device)``."""
    store = Store(url, pool_size=1)

    def add(connection: Any) -> tuple[int, list[int], int, int]:
        account, first = accounts.open_account(
            connection,
            name="bench",
            key=API_KEY,
            key_label="bench",
            device={"public_id": DEVICES[0], "phone": "628120000000", "transport": "sandbox"},
            now=now,
        )
        ids = [first.id]
        for n, public_id in enumerate(DEVICES[1:], start=1):
            ids.append(
                accounts.add_device(
                    connection,
                    public_id=public_id,
                    account_id=account.id,
                    phone=f"62812000000{n}",
                    transport="sandbox",
                    created_at=now,
                ).id
            )
        other, other_device = accounts.open_account(
            connection,
            name="other",
            key=API_KEY + "-other",
            key_label="bench",
            device={"public_id": "dash-other", "phone": "628129999999", "transport": "sandbox"},
            now=now,
        )
        return account.id, ids, other.id, other_device.id

    try:
        return await store.database.write(add)
    finally:
        await store.close()


def rows(
    first: int, last: int, count: int, now: int, owners: tuple[int, list[int], int, int]
) -> Iterator[tuple[Any, ...]]:
    """Messages ``first`` to ``last`` of ``count``: one a millisecond, the last one now."""
    account, device_ids, other, other_device = owners
    contents = (
        button_content(),
        encode_content(build_text_message(message="Halo", limits=WHATSAPP_LIMITS)),
    )
    for n in range(first, last):
        at = now - (count - n)
        mine = n % 10 != 9  # a tenth are the other account's
        status = STATUSES[n % len(STATUSES)]
        yield (
            f"3EB0{at << 20:016X}",
            account if mine else other,
            device_ids[n % len(device_ids)] if mine else other_device,
            recipient(n),
            contents[n % 2],
            status,
            at,
            1,
            at,
            at + 50 if status not in ("queued", "cancelled") else None,
        )


def fill_sqlite(path: Path, count: int, now: int, owners: tuple[int, list[int], int, int]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    # Built from the fixed column names above, nothing from outside.
    columns, marks = ", ".join(_COLUMNS), ", ".join("?" * len(_COLUMNS))
    statement = f"INSERT INTO messages ({columns}) VALUES ({marks})"  # noqa: S608
    try:
        connection.execute("PRAGMA synchronous=OFF")
        for first in range(0, count, CHUNK):
            last = min(count, first + CHUNK)
            connection.execute("BEGIN")
            connection.executemany(statement, rows(first, last, count, now, owners))
            connection.execute("COMMIT")
            progress(f"messages: {last:,} of {count:,}")
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


async def fill_postgres(
    url: str, count: int, now: int, owners: tuple[int, list[int], int, int]
) -> None:
    connection = await asyncpg.connect(url)
    try:
        for first in range(0, count, CHUNK):
            last = min(count, first + CHUNK)
            await connection.copy_records_to_table(
                "messages", records=list(rows(first, last, count, now, owners)), columns=_COLUMNS
            )
            progress(f"messages: {last:,} of {count:,}")
        await connection.execute("VACUUM ANALYZE messages")
    finally:
        await connection.close()


def signed_in(server: HttpServer) -> httpx.Client:
    """A client holding a dashboard session, made as a browser makes one."""
    client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30)
    form = client.get("/")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None, "no CSRF token on the sign-in page"
    answer = client.post("/dashboard/signin", data={"csrf": token.group(1), "key": API_KEY})
    assert answer.status_code == 303, answer.text
    return client


def timed(client: httpx.Client, paths: Sequence[str]) -> list[float]:
    """Each path fetched in turn; the milliseconds of each, sorted."""
    spent = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"
    return sorted(spent)


def measure(database: str, url: str, directory: Path, count: int, requests: int) -> list[list[Any]]:
    upgrade_to_head(url)
    now = now_ms()
    owners = asyncio.run(_provision(url, now))
    started = time.perf_counter()
    if database == "SQLite":
        fill_sqlite(directory / "kurir.db", count, now, owners)
    else:
        asyncio.run(fill_postgres(url, count, now, owners))
    progress(f"{database}: {count:,} messages in {time.perf_counter() - started:.0f} s")
    server = start_kurir_serve(url, directory, f"kurir-{database}")
    try:
        client = signed_in(server)
        middle = f"3EB0{(now - count // 2) << 20:016X}"
        since = time.strftime("%Y-%m-%dT%H:%M", time.localtime((now - 3_600_000) / 1000))
        first_page = client.get("/dashboard/messages").text
        cursor = re.search(r"before=(\d+)", first_page)
        deep = f"/dashboard/messages?before={int(cursor.group(1)) // 2}" if cursor else None
        pages = {
            "list, newest": "/dashboard/messages",
            "list, by device": f"/dashboard/messages?device={DEVICES[1]}",
            "list, failed": "/dashboard/messages?status=failed",
            "list, by recipient": f"/dashboard/messages?recipient={recipient(123)}",
            "list, text kind": "/dashboard/messages?kind=text",
            "list, last hour": f"/dashboard/messages?from={since}",
            "list, deep page": deep or "/dashboard/messages",
        }
        found = []
        for name, path in pages.items():
            shown = client.get(path).text.count('href="/dashboard/messages/3EB0')
            assert shown > 0, f"{name}: no messages shown"
            spent = timed(client, [path] * requests)
            found.append(
                [database, name, f"{percentile(spent, 0.5):.1f}", f"{percentile(spent, 0.99):.1f}"]
            )
        picks = [random.randrange(count) for _ in range(requests)]
        ids = [f"3EB0{(now - (count - n)) << 20:016X}" for n in picks if n % 10 != 9] or [middle]
        spent = timed(client, [f"/dashboard/messages/{message_id}" for message_id in ids])
        found.append(
            [
                database,
                "message page",
                f"{percentile(spent, 0.5):.1f}",
                f"{percentile(spent, 0.99):.1f}",
            ]
        )
        return found
    finally:
        server.stop()


@contextmanager
def databases(with_postgres: bool, directory: Path) -> Iterator[list[tuple[str, str, Path]]]:
    kinds = [("SQLite", sqlite_url(directory / "sqlite"), directory / "sqlite")]
    (directory / "sqlite").mkdir()
    if not with_postgres:
        yield kinds
        return
    reason = postgres_unavailable_reason()
    if reason is not None:
        progress(f"PostgreSQL left out: {reason}")
        yield kinds
        return
    (directory / "postgres").mkdir()
    with postgres_database() as url:
        yield [*kinds, ("PostgreSQL", url, directory / "postgres")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results: list[list[Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="kurir-bench-dashboard-") as tmp,
        databases(not args.no_postgres, Path(tmp)) as kinds,
    ):
        for database, url, directory in kinds:
            results += measure(database, url, directory, args.messages, args.requests)
    print(f"\nKurir {code_version()}; {args.messages:,} messages; load {load_average()}")
    print(table(["database", "page", "p50 ms", "p99 ms"], results, left=2))
    worst = max(float(row[3]) for row in results)
    print(
        f"\nevery page's p99 under {GOAL_MS:g} ms: {verdict(worst < GOAL_MS)} (worst {worst:.1f})"
    )


if __name__ == "__main__":
    main()
