"""The webhook deliverer: turns due outbox rows into signed POSTs until each is delivered or dead.

The delivery row is the job, as a message row is. The deliverer claims due
deliveries under a lease, as many per endpoint as it has free slots
(``per_endpoint`` less those in flight), so a slow or dead endpoint fills its
own slots and no others. It posts each through the process's one `Egress`,
within a connect and a total timeout, and records the outcomes in batches
through a group committer, each only while its lease is held. What comes
next (delivered, tried again later, dead) `kurir.store.deliveries` decides
with the retry policy: a failing endpoint's deliveries wait in the database
for their next time, not in a task holding a slot.

Leases are not renewed: one outlasts an attempt (its total timeout) by a
margin, so an attempt always ends before its lease does. A worker that dies
leaves its deliveries to whoever claims after the lease, or at once on the
same host: the deliverer shares the message dispatcher's worker id, whose
heartbeat carries its process, and the dispatcher's liveness check takes
back a dead process's deliveries with its devices (`kurir.store.leases`).
A delivery taken over mid-attempt may reach its receiver twice, with the
same ``webhook-id``.

Sends come first. On SQLite the deliverer's claims and records are
background writes: the one writer lets up to eight other writes go before
each. When they had to wait (sends kept the writer busy), the deliverer
halves the attempts it keeps in flight per endpoint, down to a quarter of
``per_endpoint``, and takes one back with each claim that did not wait
(`InFlightLimit`). Deliveries fall behind while sends saturate the process,
and catch up when they stop. On PostgreSQL nothing waits this way: scale
out with more workers instead.

It sleeps until a commit wrote deliveries (`Store.on_deliveries_due`, and a
NOTIFY from other processes on PostgreSQL), an attempt ends, or the next
delivery falls due.
"""

import asyncio
import contextlib
import functools
import logging

import msgspec

from kurir.clock import now_ms
from kurir.dispatch.passes import PassLoop, sleep_seconds
from kurir.domain.events import DeliveryStatus
from kurir.domain.retry import DeliveryRetryPolicy
from kurir.egress import Egress
from kurir.logs import log_context
from kurir.metrics import METRICS
from kurir.store import Store, deliveries
from kurir.store.records import ClaimedDelivery, DeliveryAttempt, RecordedAttempt
from kurir.webhooks.attempt import AttemptOutcome, Verdict, attempt_delivery

log = logging.getLogger("kurir.webhooks")
_COUNTS = METRICS.counts

# How much longer than an attempt's total timeout a lease lasts: time to record it.
_LEASE_MARGIN_S = 30.0
# How long news of due deliveries is gathered while attempts are under way.
_GATHER_S = 0.02
# The longest a connection may take to open; a third of the total when that is less.
_MAX_CONNECT_TIMEOUT_S = 10.0


class DeliverySettings(msgspec.Struct, frozen=True):
    """How the deliverer claims and attempts."""

    #: Attempts in flight at once to one endpoint (KURIR_WEBHOOK_CONCURRENCY).
    per_endpoint: int = 4
    #: Attempts in flight at once in all; also the egress connection pool's size.
    max_in_flight: int = 100
    #: An attempt without a complete answer in this time has failed.
    total_timeout_s: float = 30.0
    #: The longest sleep. Commits announce new deliveries; this bounds the wait
    #: for what nothing announced (a row changed by hand, another process's
    #: commit on SQLite, which has no NOTIFY) and costs one claim a time.
    max_idle_s: float = 30.0
    #: The backoff between tries, and the deadline after which an endpoint that
    #: failed every delivery is disabled.
    retry: DeliveryRetryPolicy = DeliveryRetryPolicy()
    #: Whether receivers may be on private addresses (development and tests).
    allow_private_urls: bool = False
    #: How long a stopping worker lets attempts under way run before it gives
    #: them back: long enough for a healthy receiver, short enough not to hold
    #: up a restart for a hung one (which then gets the delivery again).
    shutdown_grace_s: float = 5.0

    @property
    def connect_timeout_s(self) -> float:
        return min(_MAX_CONNECT_TIMEOUT_S, self.total_timeout_s / 3)

    @property
    def lease_ms(self) -> int:
        return round((self.total_timeout_s + _LEASE_MARGIN_S) * 1000)


class InFlightLimit:
    """Attempts kept in flight per endpoint: the setting, less while sends keep the writer busy.

    Halved after each claim during which background writes waited (see
    `kurir.store.database.Database.background_waits`), never below a quarter
    of the setting (at least 1), so deliveries still move; one more after
    each claim that found the writer free. Attempts take the core that sends
    need: a delivery's post, signature and records cost about 230 us of it
    on the benchmark machine, a sandbox send about 130 us.
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self.least = max(1, most // 4)
        self._value = float(most)

    @property
    def value(self) -> int:
        return int(self._value)

    def after_claim(self, *, writer_was_busy: bool) -> None:
        if writer_was_busy:
            self._value = max(float(self.least), self._value / 2)
        else:
            self._value = min(float(self.most), self._value + 1)


class WebhookDeliverer:
    """Delivers due webhook deliveries of every enabled endpoint, as one worker."""

    def __init__(self, store: Store, settings: DeliverySettings, *, worker_id: str) -> None:
        """``worker_id`` owns its leases: its dispatcher's, whose heartbeat covers them."""
        self.store = store
        self.settings = settings
        self.worker_id = worker_id
        self._passes = PassLoop(log, "webhook delivery pass")
        self._egress = Egress(
            allow_private=settings.allow_private_urls, max_connections=settings.max_in_flight
        )
        self._recorder = store.committer(
            functools.partial(deliveries.record_attempts, policy=settings.retry), background=True
        )
        self._limit = InFlightLimit(settings.per_endpoint)
        # Deliveries being attempted or recorded, by id; attempts under way, per
        # endpoint and in all.
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._busy: dict[int, int] = {}
        self._attempting = 0
        self._gathering: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Deliver until `stop` is called."""
        log.info("webhook deliverer %s started", self.worker_id)
        try:
            await self._passes.run(self._deliver_once)
        finally:
            await self._shutdown()

    def stop(self) -> None:
        self._passes.stop()

    def notice_deliveries(self) -> None:
        """Deliveries became due (a commit of this process, or a NOTIFY): claim them.

        At once when idle. While attempts are under way, news is gathered for
        `_GATHER_S` first: under load every commit of a sending worker makes
        deliveries, and a pass for each, mostly finding its endpoints' slots
        full, cost the sending more than the delivering did.
        """
        if not self._attempting:
            self._passes.wake()
        elif self._gathering is None:
            self._gathering = asyncio.get_running_loop().call_later(_GATHER_S, self._end_gathering)

    def _end_gathering(self) -> None:
        self._gathering = None
        self._passes.wake()

    async def _deliver_once(self) -> float | None:
        """One pass: claim what is due for free slots; return seconds to sleep."""
        settings = self.settings
        free = settings.max_in_flight - self._attempting
        if free > 0:
            waits = self.store.database.background_waits
            claimed = await self.store.write_in_background(
                deliveries.claim_due_deliveries,
                worker=self.worker_id,
                now=now_ms(),
                lease_ms=settings.lease_ms,
                per_endpoint=self._limit.value,
                busy=dict(self._busy),
                limit=free,
            )
            self._limit.after_claim(writer_was_busy=self.store.database.background_waits != waits)
            for delivery in claimed:
                self._busy[delivery.endpoint_id] = self._busy.get(delivery.endpoint_id, 0) + 1
                self._attempting += 1
                self._tasks[delivery.id] = asyncio.create_task(
                    self._deliver(delivery), name=f"webhook-{delivery.id}"
                )
        if self._attempting >= settings.max_in_flight:
            # Nothing more can start before an attempt ends, and that wakes the loop.
            return sleep_seconds(None, settings.max_idle_s)
        full = [endpoint for endpoint, n in self._busy.items() if n >= self._limit.value]
        return sleep_seconds(
            await self.store.read(deliveries.next_due, exclude=full), settings.max_idle_s
        )

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        """Attempt one delivery and record the outcome.

        Its slot is free once the receiver has answered: recording takes no
        receiver's time, and the delivery stays under its lease until then.
        """
        with log_context(webhook=delivery.endpoint, delivery=delivery.public_id):
            await self._deliver_in_context(delivery)

    async def _deliver_in_context(self, delivery: ClaimedDelivery) -> None:
        retry = True
        try:
            try:
                outcome = await self._attempt(delivery)
            finally:
                self._attempt_ended(delivery.endpoint_id)
            retry = await self._record(delivery, outcome)
        finally:
            del self._tasks[delivery.id]
            if retry:
                self._passes.wake()  # its next due time counts for the sleep

    def _attempt_ended(self, endpoint_id: int) -> None:
        """Free the attempt's slot; claim again once a batch of slots is free.

        A claim per freed slot would cost a transaction per delivery. Waiting
        for a quarter of the endpoint's slots claims several at once, and
        delays a delivery by the time a few attempts take. When all slots
        were taken, a quarter of them free again also makes a pass.
        """
        settings = self.settings
        left = self._busy.pop(endpoint_id) - 1
        if left:
            self._busy[endpoint_id] = left
        self._attempting -= 1
        per_endpoint = self._limit.value
        endpoint_batch = max(1, per_endpoint // 4)
        total_batch = max(1, settings.max_in_flight // 4)
        if (
            left <= per_endpoint - endpoint_batch
            or self._attempting == settings.max_in_flight - total_batch
        ):
            self._passes.wake()

    async def _record(self, delivery: ClaimedDelivery, outcome: AttemptOutcome) -> bool:
        """Record the attempt; whether the delivery may be due again (retry, or unknown)."""
        attempt = DeliveryAttempt(
            delivery_pk=delivery.id, worker=self.worker_id, **msgspec.structs.asdict(outcome)
        )
        try:
            recorded = await self._recorder.submit(attempt)
        except Exception as error:  # the database is away: the lease runs out, and it is retried
            log.warning(
                "webhook %s to %s: attempt not recorded (%s); it is tried again later",
                delivery.public_id,
                delivery.endpoint,
                type(error).__name__,
            )
            return True
        _COUNTS.webhook_deliveries[_outcome_label(recorded)] += 1
        _log_recorded(delivery, outcome, recorded)
        return recorded.status == DeliveryStatus.PENDING

    async def _attempt(self, delivery: ClaimedDelivery) -> AttemptOutcome:
        try:
            return await attempt_delivery(
                self._egress,
                url=delivery.url,
                secrets=delivery.secrets,
                msg_id=delivery.public_id,
                body=delivery.body,
                connect_timeout=self.settings.connect_timeout_s,
                total_timeout=self.settings.total_timeout_s,
            )
        except ValueError as error:  # a secret that is not one; the message does not show it
            return _not_attempted(Verdict.FINAL, f"cannot sign: {error}")
        except Exception as error:  # a bug must cost one attempt, not the worker
            log.exception("webhook %s to %s: attempt failed", delivery.public_id, delivery.endpoint)
            return _not_attempted(Verdict.RETRY, f"internal error ({type(error).__name__})")

    async def _shutdown(self) -> None:
        """Let attempts under way end briefly, then give back what is left and stop."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=self.settings.shutdown_grace_s)
        unfinished = list(self._tasks)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if unfinished:
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):  # if this fails, the leases run out instead
                await self.store.write(
                    deliveries.release_claims, worker=self.worker_id, pks=unfinished
                )
        await self._egress.aclose()
        log.info("webhook deliverer %s stopped", self.worker_id)


def _not_attempted(verdict: Verdict, error: str) -> AttemptOutcome:
    return AttemptOutcome(
        verdict=verdict,
        attempted_at=now_ms(),
        status_code=None,
        latency_ms=0,
        response="",
        error=error,
    )


def _outcome_label(recorded: RecordedAttempt) -> str:
    """The attempt's outcome as the metrics name it: delivered, retry, dead, lease_lost."""
    if not recorded.held or recorded.status is None:
        return "lease_lost"
    return "retry" if recorded.status == DeliveryStatus.PENDING else str(recorded.status)


def _log_recorded(
    delivery: ClaimedDelivery, outcome: AttemptOutcome, recorded: RecordedAttempt
) -> None:
    """Errors are as `attempt_delivery` made them: URLs without credentials or query."""
    if not recorded.held:
        log.info(
            "webhook %s to %s: lease lost to another worker; its outcome is not recorded",
            delivery.public_id,
            delivery.endpoint,
        )
    elif recorded.status == DeliveryStatus.DEAD:
        log.info(
            "webhook %s to %s is dead: %s", delivery.public_id, delivery.endpoint, outcome.error
        )
    elif recorded.status == DeliveryStatus.PENDING:
        log.debug("webhook %s to %s: %s", delivery.public_id, delivery.endpoint, outcome.error)
    elif recorded.status == DeliveryStatus.DELIVERED and log.isEnabledFor(logging.DEBUG):
        log.debug(
            "webhook %s to %s delivered: %s in %d ms",
            delivery.public_id,
            delivery.endpoint,
            outcome.status_code,
            outcome.latency_ms,
        )
    if recorded.endpoint_disabled is not None:
        log.warning(
            "webhook endpoint %s disabled: %s", delivery.endpoint, recorded.endpoint_disabled
        )
