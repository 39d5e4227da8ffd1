"""A lean HTTP/1.1 load generator for Kurir's sends (``--path``), run in its own process.

There is no wrk on this machine, so this is one in Python: raw asyncio
protocols on uvloop, keep-alive connections, request bytes built once, and
responses parsed only as far as the status line and Content-Length. It prints
one JSON object with what it measured.

Two modes:

``closed``
    every connection sends its next request as soon as the previous answer
    arrived: the most the server can accept with that many clients.
``open``
    requests are scheduled at a fixed rate whatever the server does, and each
    latency is measured from the request's *scheduled* time, so a stalled
    server cannot hide its stall by slowing the client down (no coordinated
    omission). A request waits for a free connection when all are busy, and
    that wait counts.

    python benchmarks/loadgen.py --port 8080 --path /send/text --mode closed --duration 5
"""

import argparse
import asyncio
import json
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import msgspec
import uvloop

HOST = "127.0.0.1"
_MESSAGE_ID = re.compile(r"3EB0[0-9A-F]{16}")
#: Alat WA's success body: these keys, in this order.
_RESPONSE_KEYS = ["status", "message_id", "from", "to", "message"]

clock: Callable[[], float] = time.perf_counter


class ConnectionClosed(Exception):
    pass


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        start = head.find(b"\r\ncontent-length:")
        length = 0
        if start >= 0:
            stop = head.find(b"\r\n", start + 2)
            length = int(head[start + 17 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(buffer) < total:
            return
        status = int(buffer[9:12])
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionClosed("the server closed the connection")
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._lost)

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        if self._lost is not None or self._transport is None:
            raise ConnectionClosed(str(self._lost))
        waiter: asyncio.Future[tuple[int, bytes]] = self._loop.create_future()
        self._waiter = waiter
        self._transport.write(data)
        return waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _button_body(device: str, phone: str) -> dict[str, object]:
    """The seed's example request."""
    return {
        "device": device,
        "phone": phone,
        "message_header": "Header",
        "message": "Pilih salah satu:",
        "message_footer": "Footer",
        "buttons": ["Opsi 1", "Opsi 2", "Opsi 3"],
    }


def _text_body(device: str, phone: str) -> dict[str, object]:
    """The text example of Kurir's API document."""
    return {"device": device, "phone": phone, "message": "Halo, pesanan Anda sudah dikirim."}


#: The request body of each send endpoint the generator can load.
BODIES: dict[str, Callable[[str, str], dict[str, object]]] = {
    "/send/button": _button_body,
    "/send/text": _text_body,
}


class Sample(NamedTuple):
    """One request's bytes, and the recipient its answer must name."""

    data: bytes
    to: str


def build_requests(
    port: int, api_key: str, devices: Sequence[str], path: str, variants: int = 16
) -> list[Sample]:
    """The example request of ``path``, with a few different recipients, to each device in turn."""
    requests = []
    for n in range(max(variants, len(devices))):
        phone = f"6281111111{10 + n % variants:02d}"
        body = msgspec.json.encode(BODIES[path](devices[n % len(devices)], phone))
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Authorization: {api_key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(Sample(head.encode() + body, phone))
    return requests


class Stats:
    """What a run saw: every status, the measured latencies, and checked samples.

    ``sender`` is the device's phone, which a strict check expects in ``from``;
    without it, a sample only has to say ``"status": "ok"`` (the bare endpoint).
    """

    def __init__(self, sample_every: int, sender: str | None) -> None:
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.latencies: list[float] = []
        #: Open mode: how late after its scheduled time each request went out.
        self.send_lags: list[float] = []
        #: (start or scheduled time within the window, latency) of each measured request.
        self.timeline: list[tuple[float, float]] = []
        self.ok_in_window = 0
        self._sample_every = sample_every
        self._sender = sender
        self._seen_ok = 0
        self.samples_checked = 0
        self.samples_bad = 0
        self.bad_examples: list[str] = []
        self.error_examples: list[str] = []

    def answer(self, status: int, body: bytes, to: str) -> None:
        self.statuses[status] += 1
        if status != 200:
            if len(self.error_examples) < 3:
                self.error_examples.append(f"{status} {body[:200]!r}")
            return
        self._seen_ok += 1
        if self._seen_ok % self._sample_every == 1 or self._sample_every == 1:
            self._check(body, to)

    def _check(self, body: bytes, to: str) -> None:
        self.samples_checked += 1
        try:
            answer = msgspec.json.decode(body)
            good = isinstance(answer, dict) and answer.get("status") == "ok"
            if good and self._sender is not None:
                good = (
                    list(answer) == _RESPONSE_KEYS
                    and bool(_MESSAGE_ID.fullmatch(str(answer["message_id"])))
                    and answer["from"] == self._sender
                    and answer["to"] == to
                    and answer["message"] == "Success"
                )
        except msgspec.DecodeError:
            good = False
        if not good:
            self.samples_bad += 1
            if len(self.bad_examples) < 3:
                self.bad_examples.append(repr(body[:200]))

    def failure(self, error: BaseException) -> None:
        self.errors += 1
        if len(self.error_examples) < 3:
            self.error_examples.append(f"{type(error).__name__}: {error}")


async def connect(
    loop: asyncio.AbstractEventLoop, ports: Sequence[int], count: int
) -> list[tuple[HttpConnection, int]]:
    """``count`` connections, spread over the ports in turn."""
    connections = []
    for i in range(count):
        port = ports[i % len(ports)]
        _, protocol = await loop.create_connection(lambda: HttpConnection(loop), HOST, port)
        connections.append((protocol, port))
    return connections


async def _exchange(
    connection: HttpConnection, request: Sample, stats: Stats
) -> tuple[int, float] | None:
    """Send one request and record its answer: (status, answered at), or None if lost."""
    try:
        status, body = await connection.request(request.data)
    except Exception as error:  # a refused or dropped connection is a result
        stats.failure(error)
        return None
    done = clock()
    stats.answer(status, body, request.to)
    return status, done


async def run_closed(
    connections: list[tuple[HttpConnection, int]],
    requests: dict[int, list[Sample]],
    stats: Stats,
    warmup: float,
    duration: float,
) -> float:
    """Each connection sends back to back; latencies of the measured window only."""
    measure_from = clock() + warmup
    measure_to = measure_from + duration

    async def client(connection: HttpConnection, port: int, offset: int) -> None:
        mine = requests[port]
        i = offset
        while clock() < measure_to:
            started = clock()
            answer = await _exchange(connection, mine[i % len(mine)], stats)
            if answer is None:
                return
            status, done = answer
            if measure_from <= done <= measure_to:
                # Throughput counts every answer inside the window; latency only
                # the requests that also started inside it.
                if status == 200:
                    stats.ok_in_window += 1
                if started >= measure_from:
                    stats.latencies.append(done - started)
                    stats.timeline.append((started - measure_from, done - started))
            i += 1

    await asyncio.gather(*(client(c, port, n) for n, (c, port) in enumerate(connections)))
    return duration


async def run_open(
    connections: list[tuple[HttpConnection, int]],
    requests: dict[int, list[Sample]],
    stats: Stats,
    warmup: float,
    duration: float,
    rate: float,
) -> float:
    """Requests scheduled at ``rate``; latency counted from each scheduled time."""
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    start = clock() + 0.01
    measure_from = start + warmup
    total = int(rate * (warmup + duration))
    measured_count = total - int(rate * warmup)

    async def ticker() -> None:
        sent = 0
        while sent < total:
            due = min(total, int((clock() - start) * rate) + 1)
            while sent < due:
                queue.put_nowait(start + sent / rate)
                sent += 1
            if sent < total:
                # The event loop's timers have a resolution of 1 ms; asking for
                # less would spin. A request goes out at most ~1 ms after its
                # time, and that lag is reported (send_lag_p99_ms) and counted.
                await asyncio.sleep(max(0.001, start + sent / rate - clock()))
        for _ in connections:
            queue.put_nowait(None)

    async def client(connection: HttpConnection, port: int, offset: int) -> None:
        mine = requests[port]
        i = offset
        while True:
            scheduled = await queue.get()
            if scheduled is None:
                return
            sending = clock()
            answer = await _exchange(connection, mine[i % len(mine)], stats)
            if answer is None:
                return
            status, done = answer
            if scheduled >= measure_from:
                stats.latencies.append(done - scheduled)
                stats.send_lags.append(sending - scheduled)
                stats.timeline.append((scheduled - measure_from, done - scheduled))
                if status == 200:
                    stats.ok_in_window += 1
            i += 1

    await asyncio.gather(ticker(), *(client(c, port, n) for n, (c, port) in enumerate(connections)))
    # The achieved rate over the time the measured requests took to be answered.
    elapsed = clock() - measure_from
    return max(elapsed, measured_count / rate)


async def main_async(args: argparse.Namespace) -> tuple[dict[str, Any], Stats]:
    loop = asyncio.get_running_loop()
    devices = args.device or [""]
    requests = {port: build_requests(port, args.api_key, devices, args.path) for port in args.port}
    stats = Stats(args.sample_every, args.sender)
    connections = await connect(loop, args.port, args.connections)
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = clock()
    if args.mode == "closed":
        window = await run_closed(connections, requests, stats, args.warmup, args.duration)
    else:
        window = await run_open(connections, requests, stats, args.warmup, args.duration, args.rate)
    wall = clock() - wall_before
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for connection, _ in connections:
        connection.close()
    latencies = sorted(stats.latencies)
    lags = sorted(stats.send_lags)

    def pct(fraction: float, values: list[float] = latencies) -> float:
        if not values:
            return 0.0
        rank = max(0, min(len(values) - 1, int(fraction * len(values) + 0.5) - 1))
        return values[rank] * 1000

    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    result = {
        "path": args.path,
        "mode": args.mode,
        "connections": args.connections,
        "ports": args.port,
        "rate": args.rate if args.mode == "open" else None,
        "window_s": window,
        "measured": len(latencies),
        "ok_per_s": stats.ok_in_window / window if window > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": latencies[-1] * 1000 if latencies else 0.0,
        "send_lag_p99_ms": pct(0.99, lags),
        "statuses": {str(code): n for code, n in sorted(stats.statuses.items())},
        "total_ok": stats.statuses.get(200, 0),
        "non_200": sum(n for code, n in stats.statuses.items() if code != 200),
        "errors": stats.errors,
        "error_examples": stats.error_examples,
        "samples_checked": stats.samples_checked,
        "samples_bad": stats.samples_bad,
        "bad_examples": stats.bad_examples,
        "client_cpu_s": cpu,
        "client_wall_s": wall,
    }
    return result, stats


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--port", type=int, action="append", required=True, help="a server port (repeatable)"
    )
    parser.add_argument("--path", choices=sorted(BODIES), default="/send/button")
    parser.add_argument("--mode", choices=["closed", "open"], default="closed")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--rate", type=float, default=2000.0, help="open mode: requests/s")
    parser.add_argument("--api-key", default="")
    parser.add_argument(
        "--device", action="append", default=[], help="a device (repeatable: each in turn)"
    )
    parser.add_argument(
        "--sender",
        help="the device's phone: check samples against Alat WA's exact success body from it",
    )
    parser.add_argument(
        "--sample-every", type=int, default=500, help="check the body of every Nth 200"
    )
    parser.add_argument(
        "--timeline", help="write 'seconds-into-window latency-ms' of every measured request here"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    result, stats = uvloop.run(main_async(args))
    if args.timeline is not None:
        with open(args.timeline, "w") as out:
            out.writelines(f"{at:.6f} {latency * 1000:.3f}\n" for at, latency in stats.timeline)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
