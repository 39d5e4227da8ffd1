"""Prometheus metrics of one process, served on ``KURIR_METRICS_PORT``.

The request path pays one dictionary increment per request (and one per
accepted message): counts are plain integers kept on the event loop's thread,
turned into metric families only when scraped. No lock, no database query per
request; prometheus-client's own counters take a lock on every increment.
What is a state rather than a count (queue depth, device states, workers) is
read from the database when scraped, at most once every ``GAUGE_TTL_S``.

Each process serves its own: with several processes on PostgreSQL, scrape
each, and sum the counters; the gauges read the shared database, so every
process shows the same queue.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kurir.clock import now_ms
from kurir.store import Store
from kurir.store.gauges import WAITING, Gauges, read_gauges

log = logging.getLogger("kurir.metrics")

#: How long a scrape's database reads are reused by the next scrapes.
GAUGE_TTL_S = 2.0

_LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Counts:
    """The process's counters, as plain integers; every method is called on the event loop."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.accepted: Counter[str] = Counter()
        self.sends: Counter[tuple[str, str]] = Counter()
        self.webhook_deliveries: Counter[str] = Counter()


class Histograms:
    """Observed by workers once per send, where a lock per observation costs nothing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.schedule_lateness = Histogram(
            "kurir_schedule_lateness_seconds",
            "How long after it was due a message started going out (a retry: its retry time)",
            buckets=_LATENESS_BUCKETS,
            registry=registry,
        )
        self.send_latency = Histogram(
            "kurir_send_latency_seconds",
            "How long one send attempt took, media fetch included, by transport",
            ["transport"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


class _CountsCollector(Collector):
    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self.gauges: Gauges | None = None

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        requests = CounterMetricFamily(
            "kurir_http_requests",
            "API requests answered, by route template and status code",
            labels=["route", "status"],
        )
        for (route, status), count in sorted(counts.requests.copy().items()):
            requests.add_metric([route, str(status)], count)
        yield requests
        accepted = CounterMetricFamily(
            "kurir_messages_accepted", "Messages stored by the API, by kind", labels=["kind"]
        )
        for kind, count in sorted(counts.accepted.copy().items()):
            accepted.add_metric([kind], count)
        yield accepted
        sends = CounterMetricFamily(
            "kurir_sends",
            "Send attempts by transport and outcome (sent, retry, failed)",
            labels=["transport", "outcome"],
        )
        for (transport, outcome), count in sorted(counts.sends.copy().items()):
            sends.add_metric([transport, outcome], count)
        yield sends
        deliveries = CounterMetricFamily(
            "kurir_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retry, dead)",
            labels=["outcome"],
        )
        for outcome, count in sorted(counts.webhook_deliveries.copy().items()):
            deliveries.add_metric([outcome], count)
        yield deliveries
        yield from self._gauges()

    def _gauges(self) -> Iterator[Metric]:
        gauges = self.gauges
        if gauges is None:
            return
        depth = GaugeMetricFamily(
            "kurir_queue_depth", "Messages waiting to go out, by status", labels=["status"]
        )
        for status in WAITING:
            depth.add_metric([str(status)], gauges.queue_depth.get(str(status), 0))
        yield depth
        states = GaugeMetricFamily(
            "kurir_devices",
            "Devices in service by state (idle: no worker holds it)",
            labels=["state"],
        )
        for state, count in sorted(gauges.device_states.items()):
            states.add_metric([state], count)
        yield states
        yield GaugeMetricFamily(
            "kurir_workers",
            "Workers alive (heartbeat within the device lease)",
            gauges.live_workers,
        )


class Metrics:
    """The metrics of this process: counts, histograms, and the app that serves them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.counts = Counts()
        self.histograms = Histograms(self.registry)
        self._collector = _CountsCollector(self.counts)
        self.registry.register(self._collector)
        ProcessCollector(registry=self.registry)
        self._read_at = -GAUGE_TTL_S

    async def _refresh(self, store: Store, worker_lease_ms: int, reading: asyncio.Lock) -> None:
        async with reading:  # one read for concurrent scrapes
            if time.monotonic() - self._read_at < GAUGE_TTL_S:
                return
            try:
                self._collector.gauges = await store.read(
                    read_gauges, now=now_ms(), worker_lease_ms=worker_lease_ms
                )
            except Exception as error:  # the counters are still worth serving
                log.warning("metrics: the gauges could not be read (%s)", type(error).__name__)
                self._collector.gauges = None  # absent, rather than stale
            self._read_at = time.monotonic()

    def app(self, store: Store, *, worker_lease_ms: int) -> Starlette:
        """``GET /metrics`` in Prometheus's text format, alone on its own port."""
        reading = asyncio.Lock()  # the app's own: a lock is bound to the loop that first uses it

        async def scrape(_request: Request) -> Response:
            await self._refresh(store, worker_lease_ms, reading)
            return Response(
                generate_latest(self.registry),
                media_type="text/plain; version=0.0.4; charset=utf-8",
            )

        return Starlette(routes=[Route("/metrics", scrape, methods=["GET"])])


#: The process's metrics. One per process, as a process is what a scraper sees.
METRICS = Metrics()
