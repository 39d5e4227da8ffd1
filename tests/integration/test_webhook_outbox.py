"""The webhook outbox as a queue, on real databases: claims, outcomes, endpoints' health, wake-ups.

Every query takes ``now``, so leases, due times and deadlines are tested by
passing later times, never by waiting.
"""

import asyncio

import pytest
import sqlalchemy as sa

from kurir.domain.events import DeliveryStatus
from kurir.domain.retry import DeliveryRetryPolicy
from kurir.domain.webhook_outcomes import Verdict
from kurir.store import Store, deliveries
from kurir.store.deliveries import DEFAULT_DEADLINE_MS
from kurir.store.migrate import upgrade_to_head_async
from kurir.store.postgres import DELIVERIES_CHANNEL, Listener
from kurir.store.records import ClaimedDelivery, DeliveryAttempt, RecordedAttempt
from kurir.store.tables import webhook_endpoints
from tests.integration.test_dead_workers import ended_process, renew, this_process
from tests.support.outbox import add_endpoint, attempt_rows, delivery_rows, emit, endpoint_row
from tests.support.store_data import T0, add_account

LEASE_MS = 60_000
DAY_MS = 24 * 3600 * 1000
POLICY = DeliveryRetryPolicy()
URL = "http://127.0.0.1:9/hooks"


async def claim(
    store: Store,
    worker: str = "w1",
    *,
    now: int = T0,
    per_endpoint: int = 10,
    busy: dict[int, int] | None = None,
    limit: int = 100,
) -> list[ClaimedDelivery]:
    return await store.write(
        deliveries.claim_due_deliveries,
        worker=worker,
        now=now,
        lease_ms=LEASE_MS,
        per_endpoint=per_endpoint,
        busy=busy or {},
        limit=limit,
    )


def attempt(
    claimed: ClaimedDelivery,
    verdict: Verdict,
    *,
    worker: str = "w1",
    at: int = T0,
    code: int | None = None,
    retry_after: int | None = None,
    error: str | None = "answered 500",
) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_pk=claimed.id,
        worker=worker,
        verdict=verdict,
        attempted_at=at,
        status_code=code,
        latency_ms=20,
        response="busy",
        error=None if verdict == Verdict.DELIVERED else error,
        retry_after_seconds=retry_after,
    )


async def record(store: Store, *attempts: DeliveryAttempt) -> list[RecordedAttempt]:
    return await store.write(deliveries.record_attempts, list(attempts), policy=POLICY)


async def setup(store: Store, endpoints: int = 1) -> tuple[int, int, list[int]]:
    """An account with a device and ``endpoints`` endpoints: ``(account, device, endpoints)``."""
    account, (device,) = await add_account(store)
    ids = [(await add_endpoint(store, account, f"{URL}{n}"))[0] for n in range(endpoints)]
    return account, device, ids


async def test_each_endpoint_gets_its_oldest_deliveries_up_to_its_free_slots(
    store: Store,
) -> None:
    account, device, (first, second) = await setup(store, endpoints=2)
    await emit(store, account, device, at=T0 - 100, count=5)
    by_endpoint = {
        e: [r.public_id for r in await delivery_rows(store, endpoint_id=e)] for e in (first, second)
    }

    claimed = await claim(store, per_endpoint=3, busy={second: 1})
    got = {e: [c.public_id for c in claimed if c.endpoint_id == e] for e in (first, second)}
    assert got == {first: by_endpoint[first][:3], second: by_endpoint[second][:2]}
    assert [c.attempts for c in claimed] == [1] * 5
    # Oldest event first, whatever the endpoint: each event goes to both.
    assert [c.endpoint_id for c in claimed] == [first, second, first, second, first]
    assert claimed[0].body == claimed[1].body != claimed[2].body

    # The worker is full for the first endpoint; the global limit caps the rest.
    more = await claim(store, per_endpoint=3, busy={first: 3, second: 2}, limit=1)
    assert [(c.endpoint_id, c.public_id) for c in more] == [(second, by_endpoint[second][2])]


async def test_a_claimed_delivery_carries_what_an_attempt_needs(store: Store) -> None:
    account, device, _ = await setup(store, endpoints=0)
    endpoint, secret = await add_endpoint(
        store, account, URL, previous_secret="whsec_old", previous_secret_until=T0 + 1
    )
    await emit(store, account, device, at=T0)
    (claimed,) = await claim(store)
    (row,) = await delivery_rows(store)
    assert (claimed.public_id, claimed.url, claimed.endpoint_id) == (row.public_id, URL, endpoint)
    assert claimed.secrets == (secret, "whsec_old")  # the old one signs until its overlap ends
    assert b'"event":"message.status"' in claimed.body
    assert secret not in repr(claimed)
    assert URL not in repr(claimed)
    assert (row.status, row.lease_owner, row.lease_until) == ("delivering", "w1", T0 + LEASE_MS)

    await store.write(deliveries.release_claims, worker="w1", pks=[claimed.id])
    (row,) = await delivery_rows(store)
    assert (row.status, row.lease_owner, row.attempts) == ("pending", None, 0)
    (again,) = await claim(store, now=T0 + 1)
    assert again.secrets == (secret,)


async def test_what_is_not_due_or_whose_endpoint_is_off_is_not_claimed(store: Store) -> None:
    account, device, (on,) = await setup(store)
    paused, _ = await add_endpoint(store, account, URL, enabled=False)
    await emit(store, account, device, at=T0 + 1_000)
    assert await delivery_rows(store, endpoint_id=paused) == []  # off: no new deliveries
    assert await claim(store) == []
    assert await store.read(deliveries.next_due) == T0 + 1_000
    assert await store.read(deliveries.next_due, exclude=[on]) is None
    assert len(await claim(store, now=T0 + 1_000)) == 1

    # Paused after its event: its deliveries wait, deadline unchanged.
    await emit(store, account, device, at=T0 + 2_000)
    await store.database.write(
        lambda c: c.execute(sa.update(webhook_endpoints).values(enabled=False))
    )
    assert await claim(store, now=T0 + 3_000) == []
    assert await store.read(deliveries.next_due) is None
    waiting = await delivery_rows(store, status="pending")
    assert [r.deadline_at for r in waiting] == [T0 + 2_000 + DEFAULT_DEADLINE_MS]


async def test_a_lease_that_ran_out_is_taken_over_and_the_old_holder_records_nothing(
    store: Store,
) -> None:
    account, device, _ = await setup(store)
    await emit(store, account, device, at=T0)
    (first,) = await claim(store, "w1")
    assert await claim(store, "w2", now=T0 + LEASE_MS - 1) == []
    # Its worker's lease ends while it is delivering: asleep for the next due time.
    assert await store.read(deliveries.next_due) == T0 + LEASE_MS
    (taken,) = await claim(store, "w2", now=T0 + LEASE_MS + 1)
    assert (taken.id, taken.public_id, taken.attempts) == (first.id, first.public_id, 2)

    # The first worker answers late, in the same batch as the one now holding it, and again alone.
    late, current = await record(
        store,
        attempt(first, Verdict.DELIVERED, worker="w1", at=T0 + LEASE_MS + 2),
        attempt(taken, Verdict.RETRY, worker="w2", at=T0 + LEASE_MS + 3),
    )
    assert late == RecordedAttempt(held=False)
    assert current == RecordedAttempt(held=True, status=DeliveryStatus.PENDING)
    assert await record(store, attempt(first, Verdict.DELIVERED)) == [RecordedAttempt(held=False)]
    (row,) = await delivery_rows(store)
    assert (row.status, row.lease_owner, row.last_attempt_at) == (
        "pending",
        None,
        T0 + LEASE_MS + 3,
    )
    assert [a.attempted_at for a in await attempt_rows(store)] == [T0 + LEASE_MS + 3]


async def test_outcomes_deliver_retry_after_backoff_or_the_receivers_wait_and_end(
    store: Store,
) -> None:
    account, device, (endpoint,) = await setup(store)
    await emit(store, account, device, at=T0, count=4)
    ok, later, waited, gone = await claim(store, now=T0 + 10)
    results = await record(
        store,
        attempt(ok, Verdict.DELIVERED, at=T0 + 100, code=204),
        attempt(later, Verdict.RETRY, at=T0 + 100, code=500),
        attempt(waited, Verdict.RETRY, at=T0 + 100, code=429, retry_after=600),
        attempt(gone, Verdict.FINAL, at=T0 + 100, code=410, error="answered 410 Gone"),
    )
    assert [r.status for r in results] == ["delivered", "pending", "pending", "dead"]
    rows = {r.id: r for r in await delivery_rows(store)}
    answered = T0 + 120  # attempted at T0 + 100, answered 20 ms later
    assert (rows[ok.id].delivered_at, rows[ok.id].last_status_code) == (answered, 204)
    assert rows[ok.id].last_error is None
    # The first retry after half to all of the 5 s base delay.
    assert answered + 2_500 <= rows[later.id].due_at <= answered + 5_000
    assert rows[waited.id].due_at >= answered + 600_000
    assert (rows[gone.id].last_error, rows[gone.id].lease_owner) == ("answered 410 Gone", None)
    attempts = await attempt_rows(store)
    assert sorted(a.status_code for a in attempts) == [204, 410, 429, 500]
    assert {(a.endpoint_id, a.latency_ms, a.response) for a in attempts} == {(endpoint, 20, "busy")}


async def test_past_its_deadline_a_delivery_is_dead(store: Store) -> None:
    account, device, _ = await setup(store)
    await emit(store, account, device, at=T0, count=2)
    late, asked_too_long = await claim(store, now=T0 + 1)
    await record(
        store,
        attempt(late, Verdict.RETRY, at=T0 + DAY_MS),
        attempt(asked_too_long, Verdict.RETRY, at=T0 + DAY_MS - 60_000, retry_after=3600),
    )
    rows = {r.id: r for r in await delivery_rows(store)}
    assert rows[late.id].status == rows[asked_too_long.id].status == "dead"
    assert rows[late.id].last_error == (
        "answered 500; given up: its deadline passed, 24 h after the event"
    )
    assert rows[asked_too_long.id].last_error == (
        "answered 500; given up: the receiver's Retry-After reaches past its deadline"
    )


async def test_an_endpoint_failing_every_delivery_for_the_deadline_is_disabled(
    store: Store,
) -> None:
    account, device, (endpoint,) = await setup(store)
    await emit(store, account, device, at=T0, count=2)
    first, second = await claim(store, now=T0 + 1)
    await record(store, attempt(first, Verdict.RETRY, at=T0 + 1_000))
    assert (await endpoint_row(store, endpoint)).failing_since == T0 + 1_000
    await record(store, attempt(second, Verdict.DELIVERED, at=T0 + 2_000))
    assert (await endpoint_row(store, endpoint)).failing_since is None

    # Failing again from T0 + 10 s, for a day, while events keep coming.
    (first,) = await claim(store, now=T0 + 10_000)
    await record(store, attempt(first, Verdict.RETRY, at=T0 + 10_000))
    await emit(store, account, device, at=T0 + 60_000)
    old, fresh = await claim(store, now=T0 + 60_000)
    last = T0 + 10_000 + DAY_MS
    results = await record(
        store, attempt(old, Verdict.RETRY, at=last), attempt(fresh, Verdict.RETRY, at=last)
    )
    assert [r.status for r in results] == ["dead", "pending"]
    row = await endpoint_row(store, endpoint)
    assert row.enabled is False
    assert row.disabled_reason == (
        "every delivery failed for 24 h, the delivery deadline, since 2026-03-01T02:00:10Z;"
        " the last: answered 500"
    )
    assert results[1].endpoint_disabled == row.disabled_reason
    assert row.updated_at == last + 20
    # Its pending delivery waits for its owner, and no worker is woken for it.
    assert await claim(store, now=last + DAY_MS) == []
    assert await store.read(deliveries.next_due) is None


async def test_a_dead_neighbours_deliveries_are_taken_back_at_once(store: Store) -> None:
    account, device, _ = await setup(store)
    await emit(store, account, device, at=T0, count=2)
    await renew(store, "dead", ended_process(), T0)
    claimed = await claim(store, "dead", now=T0 + 1)
    woken: list[str] = []
    store.on_deliveries_due(lambda: woken.append("due"))
    # Its successor starts a second later, long before the leases run out.
    await renew(store, "successor", this_process(), T0 + 1_000)
    assert woken == ["due"]
    again = await claim(store, "successor", now=T0 + 1_000)
    assert [(c.id, c.public_id) for c in again] == [(c.id, c.public_id) for c in claimed]
    assert {c.attempts for c in again} == {2}


async def test_a_commit_that_wrote_deliveries_wakes_the_stores_listeners(store: Store) -> None:
    account, device, _ = await setup(store)
    woken: list[str] = []
    store.on_deliveries_due(lambda: woken.append("due"))
    assert await emit(store, account, device, at=T0, count=3) == 3
    assert woken == ["due"]  # once per commit

    def fails(connection: sa.Connection) -> None:
        deliveries.announce_due_deliveries(connection)
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await store.write(fails)
    await store.write(lambda connection: None)  # the mark does not outlive its transaction
    assert woken == ["due"]


async def test_the_deadline_of_new_deliveries_is_the_stores_setting(
    database_url: str, store: Store
) -> None:
    account, device, _ = await setup(store)
    other = Store(database_url, pool_size=1, webhook_deadline_ms=90_000)
    try:
        await emit(other, account, device, at=T0)
    finally:
        await other.close()
    (row,) = await delivery_rows(store)
    assert row.deadline_at == T0 + 90_000


@pytest.mark.postgres
async def test_on_postgresql_the_commit_notifies_other_processes(postgres_url: str) -> None:
    await upgrade_to_head_async(postgres_url)
    store = Store(postgres_url, pool_size=2)
    store.start()
    payloads: list[str] = []
    notified = asyncio.Event()

    def heard(payload: str) -> None:
        payloads.append(payload)
        notified.set()

    listener = Listener(postgres_url, {DELIVERIES_CHANNEL: heard})
    listener.start()
    try:
        async with asyncio.timeout(10):
            await notified.wait()  # connected: it says so with an empty payload
            notified.clear()
            account, device, _ = await setup(store)
            await emit(store, account, device, at=T0, count=2)
            await notified.wait()
        await asyncio.sleep(0.2)
        assert payloads == ["", ""]  # one notification for the commit
    finally:
        await listener.close()
        await store.close()
