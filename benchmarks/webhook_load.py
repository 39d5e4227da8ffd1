"""The webhook benchmarks' receiver process, and the plain client that is their baseline.

The receiver is ``webhook_receiver.py`` in a process of its own. The plain
client posts to it through `kurir.egress.Egress`, the HTTP code Kurir delivers
with, and nothing else of Kurir's (no database, no signing): what the
receiver and HTTP alone do.
"""

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from harness import DEVICE_ID, HERE, PYTHON, HttpServer, percentile, start_server
from kurir.clock import now_ms
from kurir.domain.events import MessageStatusEvent, payload
from kurir.domain.status import MessageStatus
from kurir.egress import Egress


def status_event(n: int, at: int) -> MessageStatusEvent:
    """The ``n``-th of a run's status events, ``n`` ms after ``at``."""
    return MessageStatusEvent(
        device=DEVICE_ID, message_id=f"M{n:019d}", status=MessageStatus.SENT, at=at + n
    )


# -- the receiver --------------------------------------------------------------


def start_receiver(log_dir: Path) -> HttpServer:
    return start_server(
        "receiver",
        lambda port: [PYTHON, str(HERE / "webhook_receiver.py"), "--port", str(port)],
        log_dir,
        lambda _port: dict(os.environ),
    )


def receiver_stats(receiver: HttpServer) -> tuple[int, dict[str, int]]:
    answer = httpx.get(f"http://127.0.0.1:{receiver.port}/stats", timeout=30).json()
    return int(answer["requests"]), {str(k): int(v) for k, v in answer["arrivals"].items()}


def reset_receiver(receiver: HttpServer) -> None:
    httpx.post(f"http://127.0.0.1:{receiver.port}/reset", timeout=10).raise_for_status()


# -- the plain client ----------------------------------------------------------


async def plain_posts(hook: str, bodies: list[bytes], in_flight: int) -> float:
    """Post every body with ``in_flight`` requests at once; requests/s."""
    queue = iter(bodies)
    async with Egress(allow_private=True, max_connections=in_flight) as egress:

        async def post_all() -> None:
            for body in queue:
                headers = {
                    "content-type": "application/json",
                    "webhook-id": f"msg_{uuid.uuid4().hex}",
                    "webhook-timestamp": str(int(time.time())),
                    "webhook-signature": "v1,baseline",
                }
                posted = await egress.post(
                    hook,
                    body=body,
                    headers=headers,
                    keep_bytes=1024,
                    connect_timeout=10,
                    total_timeout=30,
                )
                if posted.status != 200:
                    raise RuntimeError(f"the receiver answered {posted.status}")

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(in_flight)))
        return len(bodies) / (time.perf_counter() - started)


def paced(rate: float, duration: float, send: Callable[[int], None]) -> None:
    """``send(n)`` ``rate`` times a second on a fixed schedule for ``duration`` seconds."""
    started = time.perf_counter()
    for n in range(int(rate * duration)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send(n)


def plain_latency(
    receiver: HttpServer, args: argparse.Namespace, count: int
) -> tuple[float, float]:
    """A plain client posting ``count`` bodies at the same rate: before-post to arrival, ms."""
    reset_receiver(receiver)
    hook = f"http://127.0.0.1:{receiver.port}/hook"
    sent_at: dict[str, int] = {}
    body = payload(status_event(0, now_ms()))
    rate = max(1.0, count / args.duration)
    with httpx.Client() as http:

        def post(_n: int) -> None:
            webhook_id = f"msg_{uuid.uuid4().hex}"
            sent_at[webhook_id] = time.time_ns() // 1_000_000
            http.post(hook, content=body, headers={"webhook-id": webhook_id})

        paced(rate, count / rate, post)
    _, arrivals = receiver_stats(receiver)
    waits = sorted(arrivals[wid] - at for wid, at in sent_at.items() if wid in arrivals)
    return percentile(waits, 0.50), percentile(waits, 0.99)
