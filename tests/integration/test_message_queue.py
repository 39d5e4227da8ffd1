"""The message table as a queue, on real databases: accepting, claiming, recording outcomes.

Every query takes ``now`` as an argument, so lease expiry and due times are
tested by passing later times, never by waiting.
"""

import asyncio
from collections import Counter
from typing import Any

from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting, lifecycle, tables
from kurir.store.records import (
    Accepted,
    ClaimedMessage,
    DeviceRemoved,
    IdempotencyMismatch,
    NewMessage,
    SendOutcome,
)
from tests.support.store_data import (
    T0,
    add_account,
    hold_devices,
    message_rows,
    new_message,
)

LEASE_MS = 1_000
DEVICE_LEASE_MS = 15_000


async def insert(
    store: Store, *batch: NewMessage
) -> list[Accepted | IdempotencyMismatch | DeviceRemoved]:
    """One group-commit batch, exactly as given."""
    return await store.write(accepting.insert_messages, list(batch))


async def claim(
    store: Store, worker: str, limits: dict[int, int], now: int = T0
) -> list[ClaimedMessage]:
    """Claim as ``worker`` after taking the devices' leases, as a worker owns what it claims for."""
    await hold_devices(store, worker, limits, until=now + DEVICE_LEASE_MS)
    return await claim_held(store, worker, limits, now)


async def claim_held(
    store: Store, worker: str, limits: dict[int, int], now: int = T0
) -> list[ClaimedMessage]:
    """Claim as ``worker`` with the device leases as they are."""
    return await store.write(
        lifecycle.claim_due_messages,
        worker=worker,
        device_limits=limits,
        now=now,
        lease_ms=LEASE_MS,
    )


async def record(store: Store, *outcomes: SendOutcome) -> None:
    await store.write(lifecycle.record_outcomes, list(outcomes))


def outcome(
    claimed: ClaimedMessage,
    status: MessageStatus,
    *,
    worker: str = "w1",
    at: int = T0 + 7,
    **details: Any,
) -> SendOutcome:
    """What ``worker`` reports about ``claimed``."""
    return SendOutcome(claimed.id, claimed.device_id, worker, status, at, **details)


def sent(claimed: ClaimedMessage, worker: str, at: int = T0) -> SendOutcome:
    provider_id = f"p-{claimed.message_id}"
    return outcome(
        claimed, MessageStatus.SENT, worker=worker, at=at, provider_message_id=provider_id
    )


# -- accepting: idempotency -----------------------------------------------------


async def test_one_message_per_idempotency_key(store: Store) -> None:
    account, (device,) = await add_account(store)
    other_account, (other_device,) = await add_account(store)
    # Without a key every request is a message of its own.
    unkeyed = [new_message(account, device) for _ in range(3)]
    # The same key twice in one batch; the same key in another account.
    first = new_message(account, device, key="k1")
    again = new_message(account, device, key="k1")
    theirs = new_message(other_account, other_device, key="k1")
    answers = await insert(store, *unkeyed, first, again, theirs)
    assert answers == [
        *(Accepted(m.message_id, m.recipient) for m in unkeyed),
        Accepted(first.message_id, first.recipient, replayed=False),
        Accepted(first.message_id, first.recipient, replayed=True),
        Accepted(theirs.message_id, theirs.recipient, replayed=False),
    ]
    # The same key in a later batch, and through the group committer as the API sends.
    later = new_message(account, device, key="k1", due_at=T0 + 5)
    assert await insert(store, later) == [Accepted(first.message_id, first.recipient, True)]
    accepted = await store.accept(new_message(account, device, key="k1"))
    assert accepted == Accepted(first.message_id, first.recipient, True)

    stored = [row.message_id for row in await message_rows(store)]
    assert stored == [*(m.message_id for m in unkeyed), first.message_id, theirs.message_id]


async def test_a_key_reused_for_a_different_request_is_refused(store: Store) -> None:
    account, (device,) = await add_account(store)
    first = new_message(account, device, key="k1", fingerprint="body-1")
    await insert(store, first)
    later = new_message(account, device, key="k1", fingerprint="body-2")
    same_batch = [
        new_message(account, device, key="k2", fingerprint="body-1"),
        new_message(account, device, key="k2", fingerprint="body-2"),
    ]
    answers = await insert(store, later, *same_batch)
    assert answers == [
        IdempotencyMismatch(first.message_id),
        Accepted(same_batch[0].message_id, same_batch[0].recipient, replayed=False),
        IdempotencyMismatch(same_batch[0].message_id),
    ]
    stored = [row.message_id for row in await message_rows(store)]
    assert stored == [first.message_id, same_batch[0].message_id]


async def test_a_colliding_message_id_gets_a_new_id_and_answers_with_it(store: Store) -> None:
    # Ids of two processes collide by chance (2^-20 a pair made in the same
    # millisecond); when they do, no message is lost and nobody is told another
    # message's id. On SQLite the batch's one INSERT fails whole and is redone.
    account, (device,) = await add_account(store)
    existing = new_message(account, device, content='{"n":0}')
    await insert(store, existing)
    # One collides with a stored message, two with each other in one batch.
    with_stored = new_message(account, device, message_id=existing.message_id, content='{"n":1}')
    in_batch = [new_message(account, device, content='{"n":2}')]
    in_batch.append(
        new_message(account, device, message_id=in_batch[0].message_id, content='{"n":3}')
    )
    answers = await insert(store, with_stored, *in_batch)

    accepted = [answer for answer in answers if isinstance(answer, Accepted)]
    assert accepted == answers
    ids = [answer.message_id for answer in accepted]
    assert existing.message_id not in ids
    assert len(set(ids)) == 3
    for answer, content in zip(accepted, ('{"n":1}', '{"n":2}', '{"n":3}'), strict=True):
        (row,) = await message_rows(store, message_id=answer.message_id)
        assert row.content == content
    assert len(await message_rows(store)) == 4


async def test_a_colliding_message_id_with_an_idempotency_key_is_stored(store: Store) -> None:
    account, (device,) = await add_account(store)
    existing = new_message(account, device)
    await insert(store, existing)
    keyed = new_message(account, device, message_id=existing.message_id, key="k", content="{}")
    bystander = new_message(account, device)
    answers = await insert(store, keyed, bystander)
    assert answers[1] == Accepted(bystander.message_id, bystander.recipient)
    assert isinstance(answers[0], Accepted)
    assert answers[0].message_id != existing.message_id
    (row,) = await message_rows(store, idempotency_key="k")
    assert (row.message_id, row.content) == (answers[0].message_id, "{}")


# -- claiming -------------------------------------------------------------------


async def test_only_due_messages_are_claimed_each_under_a_lease(store: Store) -> None:
    account, (device,) = await add_account(store)
    past, now, later = (new_message(account, device, due_at=T0 + d) for d in (-1, 0, 1))
    await insert(store, later, now, past)

    claimed = await claim(store, "w1", {device: 10})
    assert [c.message_id for c in claimed] == [past.message_id, now.message_id]
    assert {c.attempts for c in claimed} == {1}
    rows = await message_rows(store, status=MessageStatus.SENDING)
    assert {(r.lease_owner, r.lease_until, r.sending_at) for r in rows} == {
        ("w1", T0 + LEASE_MS, T0)
    }
    (row,) = await message_rows(store, message_id=later.message_id)
    assert (row.status, row.lease_owner) == (MessageStatus.SCHEDULED, None)

    (due_later,) = await claim(store, "w1", {device: 10}, T0 + 1)
    assert due_later.message_id == later.message_id


async def test_per_device_limits_and_order(store: Store) -> None:
    account, (first, second, untouched) = await add_account(store, devices=3)
    # Inserted out of due order; equal due times keep insertion order.
    due = [30, 10, 20, 10, 0]
    firsts = [new_message(account, first, due_at=T0 - d) for d in due]
    seconds = [new_message(account, second, due_at=T0 - d) for d in (5, 1, 3)]
    await insert(store, *firsts, *seconds, new_message(account, untouched))

    claimed = await claim(store, "w1", {first: 3, second: 10})
    by_device: dict[int, list[str]] = {}
    for c in claimed:
        by_device.setdefault(c.device_id, []).append(c.message_id)
    assert by_device == {
        first: [firsts[0].message_id, firsts[2].message_id, firsts[1].message_id],
        second: [seconds[0].message_id, seconds[2].message_id, seconds[1].message_id],
    }
    assert [c.message_id for c in await claim(store, "w1", {first: 3})] == [
        firsts[3].message_id,
        firsts[4].message_id,
    ]
    # A device not asked for is left alone.
    (waiting,) = await message_rows(store, device_id=untouched)
    assert waiting.status == MessageStatus.QUEUED


async def test_finished_messages_are_never_claimed(store: Store) -> None:
    account, (device,) = await add_account(store)
    batch = [new_message(account, device) for _ in range(3)]
    await insert(store, *batch)
    cancelled = await store.write(
        lifecycle.cancel_message, batch[0].message_id, account_id=account, now=T0
    )
    assert cancelled is not None
    assert cancelled.status == MessageStatus.CANCELLED
    to_send, to_fail = await claim(store, "w1", {device: 10})
    await record(store, sent(to_send, "w1"), outcome(to_fail, MessageStatus.FAILED, error="no"))
    assert await claim(store, "w2", {device: 10}, T0 + 10 * LEASE_MS) == []


async def test_a_leased_message_is_not_handed_to_another_worker(store: Store) -> None:
    account, (device,) = await add_account(store)
    await insert(store, new_message(account, device))
    (claimed,) = await claim(store, "w1", {device: 1})
    assert await claim(store, "w2", {device: 1}, T0 + LEASE_MS // 2) == []
    # Expiry is strict: at lease_until it still belongs to w1.
    assert await claim(store, "w2", {device: 1}, T0 + LEASE_MS) == []
    (taken_back,) = await claim(store, "w2", {device: 1}, T0 + LEASE_MS + 1)
    assert taken_back.id == claimed.id
    assert taken_back.attempts == 2
    (row,) = await message_rows(store)
    assert (row.status, row.lease_owner) == (MessageStatus.SENDING, "w2")


async def test_concurrent_workers_never_claim_the_same_message(
    store: Store, database_url: str
) -> None:
    account, devices = await add_account(store, devices=2)
    await insert(store, *(new_message(account, devices[n % 2]) for n in range(120)))
    # Each worker a store of its own, as separate processes would be. Each
    # claim takes the device leases first, so they pass from worker to worker
    # between claims as in takeovers, and two claims may still overlap.
    workers = [Store(database_url, pool_size=2) for _ in range(4)]
    claims: Counter[int] = Counter()

    async def work(worker_store: Store, name: str) -> None:
        for _ in range(200):
            if sum(claims.values()) >= 120:
                return
            got = await claim(worker_store, name, {devices[0]: 7, devices[1]: 5})
            claims.update(c.id for c in got)
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(work(s, f"w{n}") for n, s in enumerate(workers)))
    finally:
        for worker_store in workers:
            await worker_store.close()
    assert len(claims) == 120
    assert set(claims.values()) == {1}
    rows = await message_rows(store)
    assert {row.status for row in rows} == {MessageStatus.SENDING}
    assert {row.attempts for row in rows} == {1}


async def test_a_taken_back_message_keeps_its_place_in_due_order(store: Store) -> None:
    account, (device,) = await add_account(store)
    first = new_message(account, device, due_at=T0 - 20)
    await insert(store, first)
    (stuck,) = await claim(store, "w1", {device: 1}, T0)
    waiting = [new_message(account, device, due_at=T0 - d) for d in (30, 10)]
    await insert(store, *waiting)
    # w1 died; w2 takes its device and gets the oldest first, the stuck one among them.
    claimed = await claim(store, "w2", {device: 2}, T0 + LEASE_MS + 1)
    assert [c.message_id for c in claimed] == [waiting[0].message_id, stuck.message_id]
    assert [c.attempts for c in claimed] == [1, 2]
    (last,) = await claim(store, "w2", {device: 2}, T0 + LEASE_MS + 1)
    assert last.message_id == waiting[1].message_id


async def test_only_devices_the_worker_holds_are_claimed_for(store: Store) -> None:
    account, (mine, theirs, lapsed, unowned) = await add_account(store, devices=4)
    await insert(store, *(new_message(account, d) for d in (mine, theirs, lapsed, unowned)))
    await hold_devices(store, "w1", [mine], until=T0)  # expiry is strict: still held at T0
    await hold_devices(store, "w2", [theirs], until=T0 + DEVICE_LEASE_MS)
    await hold_devices(store, "w1", [lapsed], until=T0 - 1)
    limits = {mine: 5, theirs: 5, lapsed: 5, unowned: 5}
    (claimed,) = await claim_held(store, "w1", limits)
    assert claimed.device_id == mine
    assert len(await message_rows(store, status=MessageStatus.QUEUED)) == 3


async def test_messages_of_a_removed_device_are_never_claimed(store: Store) -> None:
    account, (device,) = await add_account(store)
    await insert(store, new_message(account, device), new_message(account, device))
    await claim(store, "w1", {device: 1})
    # Removed while one message waits (accepted as the removal committed) and
    # one is stuck in "sending": neither goes out, even with the lease still set.
    await store.database.write(
        lambda connection: connection.execute(
            tables.devices.update().where(tables.devices.c.id == device).values(removed_at=T0)
        )
    )
    assert await claim_held(store, "w1", {device: 5}, T0 + LEASE_MS + 1) == []
    rows = await message_rows(store)
    assert sorted(row.status for row in rows) == [MessageStatus.QUEUED, MessageStatus.SENDING]


async def test_next_due_time_of_each_device(store: Store) -> None:
    account, (scheduled, queued, stuck, done, idle) = await add_account(store, devices=5)
    await insert(
        store,
        new_message(account, scheduled, due_at=T0 + 5_000),
        new_message(account, scheduled, due_at=T0 + 3_000),
        new_message(account, queued, due_at=T0 - 10),
        new_message(account, queued, due_at=T0 + 9_000),
        new_message(account, stuck, due_at=T0 + 60_000),
        new_message(account, stuck),
        new_message(account, done),
    )
    claimed = await claim(store, "w1", {stuck: 1, done: 1})
    await record(store, *(sent(c, "w1") for c in claimed if c.device_id == done))

    due = await store.read(lifecycle.next_due_by_device, [scheduled, queued, stuck, done, idle])
    # The stuck one's lease runs out before the device's next message is due.
    assert due == {scheduled: T0 + 3_000, queued: T0 - 10, stuck: T0 + LEASE_MS}
    assert await store.read(lifecycle.next_due_by_device, []) == {}


# -- recording outcomes ---------------------------------------------------------


async def test_an_outcome_from_a_worker_that_lost_the_lease_is_ignored(store: Store) -> None:
    account, (device,) = await add_account(store)
    await insert(store, new_message(account, device))
    (stale,) = await claim(store, "w1", {device: 1})
    (current,) = await claim(store, "w2", {device: 1}, T0 + LEASE_MS + 1)

    # w1 stalled past its lease; its late word must not overwrite w2's claim.
    await record(store, sent(stale, "w1", at=T0 + 2_000))
    (row,) = await message_rows(store)
    assert (row.status, row.lease_owner, row.sent_at) == (MessageStatus.SENDING, "w2", None)

    await record(store, sent(current, "w2", at=T0 + 3_000))
    (row,) = await message_rows(store)
    assert (row.status, row.lease_owner, row.sent_at) == (MessageStatus.SENT, None, T0 + 3_000)
    assert row.provider_message_id == f"p-{current.message_id}"

    # And nothing w1 says afterwards undoes it.
    await record(store, outcome(stale, MessageStatus.FAILED, error="late"))
    (row,) = await message_rows(store)
    assert (row.status, row.last_error, row.failed_at) == (MessageStatus.SENT, None, None)


async def test_retry_and_failure_outcomes(store: Store) -> None:
    account, (device,) = await add_account(store)
    await insert(store, new_message(account, device), new_message(account, device))
    to_retry, to_fail = await claim(store, "w1", {device: 2})
    await record(
        store,
        outcome(to_retry, MessageStatus.QUEUED, due_at=T0 + 500, error="timeout"),
        outcome(to_fail, MessageStatus.FAILED, error="not on WhatsApp"),
    )
    retried, failed = await message_rows(store)
    columns = ("status", "due_at", "failed_at", "last_error", "lease_owner", "lease_until")
    assert tuple(getattr(retried, c) for c in columns) == (
        MessageStatus.QUEUED,
        T0 + 500,
        None,
        "timeout",
        None,
        None,
    )
    assert tuple(getattr(failed, c) for c in columns) == (
        MessageStatus.FAILED,
        T0,
        T0 + 7,
        "not on WhatsApp",
        None,
        None,
    )

    # The retry waits for its time; the failure is final.
    assert await claim(store, "w1", {device: 2}, T0 + 499) == []
    (again,) = await claim(store, "w1", {device: 2}, T0 + 500)
    assert (again.id, again.attempts) == (to_retry.id, 2)
    await record(store, sent(again, "w1", at=T0 + 600))
    (row,) = await message_rows(store, id=to_retry.id)
    assert (row.status, row.last_error, row.attempts, row.sent_at) == (
        MessageStatus.SENT,
        None,
        2,
        T0 + 600,
    )
