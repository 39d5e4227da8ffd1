"""The webhook deliverer against real receivers on loopback, on both databases.

Each receiver is a real HTTP server that verifies deliveries with the
Standard Webhooks library and counts them per ``webhook-id``. The deliverer
runs in the test's event loop with retries a hundred times faster than the
default, and without polling: it must be woken by commits.
"""

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kurir.clock import now_ms
from kurir.dispatch.webhook_deliverer import DeliverySettings, WebhookDeliverer
from kurir.domain.retry import DeliveryRetryPolicy
from kurir.store import Store, deliveries
from kurir.store.migrate import upgrade_to_head_async
from kurir.store.postgres import DELIVERIES_CHANNEL, Listener
from tests.support.origin import Origin, never_answer, redirect
from tests.support.outbox import (
    Receiver,
    add_endpoint,
    attempt_rows,
    delivery_rows,
    emit,
    endpoint_row,
    status,
)
from tests.support.store_data import add_account

FAST = DeliveryRetryPolicy(base_delay=0.05, max_delay=0.2)


@contextlib.asynccontextmanager
async def delivering(store: Store, **settings: Any) -> AsyncIterator[WebhookDeliverer]:
    """A deliverer for the block, woken by the store's commits as `kurir serve` wakes it."""
    settings = {"allow_private_urls": True, "retry": FAST, **settings}
    deliverer = WebhookDeliverer(
        store, DeliverySettings(**settings), worker_id=f"test-{secrets.token_hex(3)}"
    )
    store.on_deliveries_due(deliverer.notice_deliveries)
    task = asyncio.create_task(deliverer.run())
    try:
        yield deliverer
    finally:
        deliverer.stop()
        await task


async def until(condition: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Wait for ``condition`` to hold, looking every 20 ms."""
    async with asyncio.timeout(within):
        # A row's state, which nothing announces to the test: looked at, not waited on.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def setup(store: Store, url: str) -> tuple[int, int, int, str]:
    """An account, a device and an endpoint at ``url``: ``(account, device, endpoint, secret)``."""
    account, (device,) = await add_account(store)
    endpoint, secret = await add_endpoint(store, account, url)
    return account, device, endpoint, secret


async def statuses(store: Store) -> list[str]:
    return [row.status for row in await delivery_rows(store)]


async def test_an_event_is_delivered_at_once_signed_and_only_once(store: Store) -> None:
    account, (device,) = await add_account(store)
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    receiver = Receiver(secret, status(204))
    async with Origin({"/hooks": receiver}) as origin, delivering(store):
        await add_endpoint(store, account, origin.url("/hooks"), secret=secret)
        emitted = time.monotonic()
        await emit(store, account, device, at=now_ms())
        await receiver.wait_for(1)
        latency = receiver.times[0] - emitted
        await until(lambda: _all(store, "delivered"))
        await asyncio.sleep(0.3)  # time for a second delivery, were there one
    assert latency < 1  # woken by the commit: no timer would ever have woken it
    (row,) = await delivery_rows(store)
    (request,) = receiver.verified
    assert request.headers["webhook-id"] == row.public_id
    assert b'"status_code":2' in request.body
    assert b'"created":' in request.body
    (logged,) = await attempt_rows(store)
    assert (logged.status_code, logged.error, row.attempts) == (204, None, 1)


async def test_a_500_is_retried_until_a_2xx(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, endpoint, secret = await setup(store, origin.url("/hooks"))
        receiver = Receiver(secret, status(500, b"oops"), status(500), status(200))
        origin.routes = {"/hooks": receiver}
        async with delivering(store):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _all(store, "delivered"))
    assert receiver.per_id().most_common() == [((await delivery_rows(store))[0].public_id, 3)]
    logged = await attempt_rows(store)
    assert [(a.status_code, a.response) for a in logged] == [(500, "oops"), (500, ""), (200, "")]
    assert logged[0].error is not None
    assert logged[0].error.endswith("answered 500 Internal Server Error")
    assert (await endpoint_row(store, endpoint)).failing_since is None


async def test_a_410_is_final_at_once(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, _, secret = await setup(store, origin.url("/hooks"))
        receiver = Receiver(secret, status(410, b"gone"))
        origin.routes = {"/hooks": receiver}
        async with delivering(store):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _all(store, "dead"))
            await asyncio.sleep(0.3)  # retries come within 50 ms: none does
    assert len(receiver.verified) == 1
    (row,) = await delivery_rows(store)
    assert (row.last_status_code, row.last_error) == (
        410,
        f"{origin.url('/hooks')}: answered 410 Gone",
    )


async def test_a_429_is_retried_no_sooner_than_its_retry_after(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, _, secret = await setup(store, origin.url("/hooks"))
        receiver = Receiver(secret, status(429, headers=[("Retry-After", "1")]), status(200))
        origin.routes = {"/hooks": receiver}
        async with delivering(store):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _all(store, "delivered"))
    first, second = receiver.times
    assert second - first >= 0.95  # not the 50 ms the backoff alone would wait


async def test_a_redirect_is_not_followed_and_the_error_says_so(store: Store) -> None:
    elsewhere = Receiver("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    async with Origin({"/moved": redirect("/elsewhere"), "/elsewhere": elsewhere}) as origin:
        account, device, _, _ = await setup(store, origin.url("/moved"))
        async with delivering(store):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _attempts_at_least(store, 2))
    assert [r.path for r in origin.received][:2] == ["/moved", "/moved"]
    assert elsewhere.verified == []
    (row,) = await delivery_rows(store)
    assert row.last_status_code == 302
    assert row.last_error == (
        f"{origin.url('/moved')}: answered 302 Found (to {origin.url('/elsewhere')});"
        " redirects are not followed: set the URL that answers"
    )


async def test_a_receiver_that_never_answers_times_out_and_is_retried(store: Store) -> None:
    async with Origin({"/hooks": never_answer}) as origin:
        account, device, _, _ = await setup(store, origin.url("/hooks"))
        async with delivering(store, total_timeout_s=0.6):
            started = time.monotonic()
            await emit(store, account, device, at=now_ms())
            await until(lambda: _attempts_at_least(store, 1))
            took = time.monotonic() - started
    (logged, *_) = await attempt_rows(store)
    assert 0.6 <= took < 5
    assert logged.status_code is None
    assert logged.error == f"{origin.url('/hooks')}: no complete answer within 0.6 s"
    assert 550 <= logged.latency_ms < 5000
    (row,) = await delivery_rows(store)
    assert row.status in ("pending", "delivering")  # retried, not given up


async def test_of_a_10_mb_answer_only_the_start_is_kept(store: Store) -> None:
    huge = b"x" * 10_000_000
    async with Origin({}) as origin:
        account, device, _, secret = await setup(store, origin.url("/hooks"))
        origin.routes = {"/hooks": Receiver(secret, status(200, huge))}
        async with delivering(store):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _all(store, "delivered"))
    (logged,) = await attempt_rows(store)
    assert logged.response == "x" * 1024


async def test_a_private_address_is_refused_unless_allowed(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, _, _ = await setup(store, origin.url("/hooks"))
        async with delivering(store, allow_private_urls=False):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _all(store, "dead"))
    assert origin.connections == 0
    (row,) = await delivery_rows(store)
    assert row.last_error is not None
    assert "127.0.0.1" in row.last_error
    assert "private" in row.last_error or "loopback" in row.last_error


async def test_past_its_deadline_a_delivery_is_dead(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, endpoint, secret = await setup(store, origin.url("/hooks"))
        origin.routes = {"/hooks": Receiver(secret, status(503))}
        async with delivering(store):
            await emit(store, account, device, at=now_ms(), deadline_ms=500)
            await until(lambda: _all(store, "dead"))
    (row,) = await delivery_rows(store)
    assert row.last_error == (
        f"{origin.url('/hooks')}: answered 503 Service Unavailable;"
        " given up: its deadline passed, 0.5 s after the event"
    )
    # The last try was answered at or past the deadline; it may have started
    # a little before it, where the backoff put it.
    last = (await attempt_rows(store))[-1]
    assert last.attempted_at == row.last_attempt_at
    assert last.attempted_at + last.latency_ms >= row.deadline_at
    # Failing for half a second is not failing for the endpoint's deadline (a day).
    assert (await endpoint_row(store, endpoint)).enabled is True


async def test_an_endpoint_failing_for_the_whole_deadline_is_disabled(store: Store) -> None:
    half_a_second = DeliveryRetryPolicy(base_delay=0.05, max_delay=0.2, deadline=0.5)
    async with Origin({}) as origin:
        account, device, endpoint, secret = await setup(store, origin.url("/hooks"))
        origin.routes = {"/hooks": Receiver(secret, status(503))}
        async with delivering(store, retry=half_a_second):
            await emit(store, account, device, at=now_ms())
            await until(lambda: _disabled(store, endpoint))
            attempts = len(await attempt_rows(store))
            await asyncio.sleep(0.3)  # retries come within 200 ms: none does
    row = await endpoint_row(store, endpoint)
    assert row.disabled_reason.startswith("every delivery failed for 0.5 s, the delivery deadline,")
    assert row.disabled_reason.endswith(
        f"the last: {origin.url('/hooks')}: answered 503 Service Unavailable"
    )
    # Its delivery waits, untried, for its owner to enable the endpoint again.
    assert await statuses(store) == ["pending"]
    assert len(await attempt_rows(store)) == attempts


async def test_a_slow_endpoint_does_not_delay_another(store: Store) -> None:
    async with Origin({"/slow": never_answer}) as slow, Origin({}) as fast:
        account, device, _, _ = await setup(store, slow.url("/slow"))
        _, secret = await add_endpoint(store, account, fast.url("/fast"))
        receiver = Receiver(secret)
        fast.routes = {"/fast": receiver}
        async with delivering(store, per_endpoint=2, shutdown_grace_s=0.1):
            started = time.monotonic()
            await emit(store, account, device, at=now_ms(), count=6)
            await receiver.wait_for(6, within=5)
            took = time.monotonic() - started
            # The slow one holds its two slots and no more.
            assert len(slow.received) == 2
    assert took < 5  # against the slow one's 30 s timeout
    # Stopped, the worker gave back what it was still attempting, uncounted.
    slow_rows = [row for row in await delivery_rows(store) if row.status != "delivered"]
    assert [(r.status, r.attempts, r.lease_owner) for r in slow_rows] == [("pending", 0, None)] * 6


async def test_one_attempt_at_a_time_keeps_an_endpoints_order(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, _, secret = await setup(store, origin.url("/hooks"))
        receiver = Receiver(secret)
        origin.routes = {"/hooks": receiver}
        await emit(store, account, device, at=now_ms(), count=8)
        async with delivering(store, per_endpoint=1):
            await receiver.wait_for(8)
    order = [r.public_id for r in await delivery_rows(store)]
    assert [r.headers["webhook-id"] for r in receiver.verified] == order


async def test_a_lease_left_by_a_vanished_worker_is_taken_over(store: Store) -> None:
    async with Origin({}) as origin:
        account, device, _, secret = await setup(store, origin.url("/hooks"))
        receiver = Receiver(secret)
        origin.routes = {"/hooks": receiver}
        await emit(store, account, device, at=now_ms())
        vanished = await store.write(
            deliveries.claim_due_deliveries,
            worker="vanished",
            now=now_ms(),
            lease_ms=500,
            per_endpoint=4,
            busy={},
            limit=10,
        )
        async with delivering(store):
            await receiver.wait_for(1)
            await until(lambda: _all(store, "delivered"))
    (row,) = await delivery_rows(store)
    assert [c.public_id for c in vanished] == [row.public_id]
    assert receiver.per_id() == {row.public_id: 1}
    assert row.attempts == 2


@contextlib.asynccontextmanager
async def worker_process(url: str) -> AsyncIterator[tuple[Store, WebhookDeliverer]]:
    """A store and a deliverer of their own, hearing other stores' commits by NOTIFY."""
    store = Store(url, pool_size=3)
    store.start()
    try:
        async with delivering(store) as deliverer:
            listener = Listener(url, {DELIVERIES_CHANNEL: lambda _: deliverer.notice_deliveries()})
            listener.start()
            try:
                yield store, deliverer
            finally:
                await listener.close()
    finally:
        await store.close()


@pytest.mark.postgres
async def test_two_workers_on_postgresql_never_deliver_the_same_twice(postgres_url: str) -> None:
    await upgrade_to_head_async(postgres_url)
    async with (
        Origin({}) as origin,
        worker_process(postgres_url) as (one, _),
        worker_process(postgres_url) as (two, _),
    ):
        account, device, _, secret = await setup(one, origin.url("/hooks"))
        _, other_secret = await add_endpoint(one, account, origin.url("/other"))
        receivers = [Receiver(secret), Receiver(other_secret)]
        origin.routes = {"/hooks": receivers[0], "/other": receivers[1]}
        # Events written through both, 200 for each endpoint.
        for n in range(10):
            await emit((one, two)[n % 2], account, device, at=now_ms(), count=20)
        for receiver in receivers:
            await receiver.wait_for(200, within=30)
        await until(lambda: _all(one, "delivered"), within=30)
        await asyncio.sleep(0.3)  # time for a second delivery, were there one
    for receiver in receivers:
        assert len(receiver.per_id()) == 200
        assert set(receiver.per_id().values()) == {1}


async def _all(store: Store, wanted: str) -> bool:
    found = await statuses(store)
    return bool(found) and set(found) == {wanted}


async def _attempts_at_least(store: Store, count: int) -> bool:
    return len(await attempt_rows(store)) >= count


async def _disabled(store: Store, endpoint: int) -> bool:
    return not (await endpoint_row(store, endpoint)).enabled
