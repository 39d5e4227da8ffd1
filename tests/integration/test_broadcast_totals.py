"""A broadcast's totals by status, kept as its messages change, equal a count of its messages.

Every kind of change `kurir.store.lifecycle` makes is applied to a
broadcast's messages, one after another and then many at once (on PostgreSQL
in concurrent transactions, which must neither deadlock nor lose a change),
and the kept totals are compared with the messages themselves.
"""

import asyncio
import random

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.status import MessageStatus
from kurir.store import Store, lifecycle
from kurir.store import broadcasts as store_broadcasts
from kurir.store.lifecycle.broadcasting import fail_messages
from kurir.store.planning import plan_broadcast
from kurir.store.records import ClaimedMessage, ProviderFailure, Receipt, SendOutcome
from kurir.store.tables import messages
from tests.integration.test_broadcast_store import JAKARTA, RNG, create, new_broadcast
from tests.support.store_data import T0, add_account, hold_devices

Totals = dict[str, int]


async def kept_and_counted(store: Store, broadcast_id: int) -> tuple[Totals, Totals]:
    """The broadcast's kept totals, and its messages counted, in one read."""

    def read(connection: Connection) -> tuple[Totals, Totals]:
        kept = store_broadcasts.progress(connection, broadcast_id).by_status
        counted = connection.execute(
            sa.select(messages.c.status, sa.func.count())
            .where(messages.c.broadcast_id == broadcast_id)
            .group_by(messages.c.status)
        )
        return kept, {status: count for status, count in counted}

    return await store.read(read)


async def assert_exact(store: Store, broadcast_id: int) -> dict[str, int]:
    kept, counted = await kept_and_counted(store, broadcast_id)
    assert kept == counted
    return kept


async def claim(store: Store, limits: dict[int, int], now: int) -> list[ClaimedMessage]:
    return await store.write(
        lifecycle.claim_due_messages, worker="w1", device_limits=limits, now=now, lease_ms=60_000
    )


def outcome(message: ClaimedMessage, status: str, at: int) -> SendOutcome:
    return SendOutcome(
        message_pk=message.id,
        device_id=message.device_id,
        worker="w1",
        status=status,
        at=at,
        provider_message_id=f"p-{message.message_id}" if status == "sent" else None,
        due_at=at if status == "queued" else None,
        error=None if status == "sent" else "try again",
    )


async def test_the_totals_follow_every_kind_of_change(store: Store) -> None:
    account_id, [device_id] = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id), 40)
    assert await assert_exact(store, broadcast.id) == {"scheduled": 40}
    await hold_devices(store, "w1", [device_id], until=T0 + 600_000)

    claimed = await claim(store, {device_id: 12}, T0)
    assert await assert_exact(store, broadcast.id) == {"scheduled": 28, "sending": 12}
    sent, retried, failed, released, reported = (
        claimed[:4],
        claimed[4:6],
        claimed[6:8],
        claimed[8:9],
        claimed[9:10],
    )
    await store.write(
        lifecycle.record_outcomes,
        [
            *(outcome(m, "sent", T0 + 1) for m in sent),
            *(outcome(m, "queued", T0 + 1) for m in retried),
            *(outcome(m, "failed", T0 + 1) for m in failed),
        ],
    )
    await store.write(lifecycle.release_claims, worker="w1", pks=[m.id for m in released], now=T0)
    await store.write(
        lifecycle.apply_receipts,
        [
            Receipt(device_id, sent[0].message_id, "delivered", T0 + 2),
            Receipt(device_id, sent[1].message_id, "read", T0 + 2),
            Receipt(device_id, sent[1].message_id, "delivered", T0 + 3),  # late: no change
        ],
    )
    await store.write(
        lifecycle.fail_reported_messages,
        [
            ProviderFailure(device_id, sent[2].message_id, "blocked", T0 + 4),  # was sent
            ProviderFailure(device_id, reported[0].message_id, "blocked", T0 + 4),  # sending
        ],
    )
    for message_id in (retried[0].message_id, released[0].message_id):  # both queued
        await store.write(lifecycle.cancel_message, message_id, account_id=account_id, now=T0 + 5)
    assert await assert_exact(store, broadcast.id) == {
        "scheduled": 28,
        "queued": 1,
        "sending": 2,
        "sent": 1,
        "delivered": 1,
        "read": 1,
        "failed": 4,
        "cancelled": 2,
    }

    # Taken over from a dead worker: sending before and after, no change.
    await claim(store, {device_id: 40}, T0 + 120_000)
    scheduled = await store.read(
        lambda connection: list(
            connection.execute(
                sa.select(messages.c.id).where(
                    messages.c.broadcast_id == broadcast.id,
                    messages.c.status == MessageStatus.SCHEDULED,
                )
            ).scalars()
        )
    )
    assert scheduled == []  # all claimed, the queued one too
    await store.write(lifecycle.fail_messages_of_removed_device, device_id=device_id, now=T0)
    assert await assert_exact(store, broadcast.id) == {
        "sending": 31,
        "sent": 1,
        "delivered": 1,
        "read": 1,
        "failed": 4,
        "cancelled": 2,
    }
    await store.write(
        lifecycle.fail_messages_of_removed_device, device_id=device_id, now=T0 + 300_000
    )
    assert (await assert_exact(store, broadcast.id))["failed"] == 35


async def test_the_totals_stay_exact_under_concurrent_changes(store: Store) -> None:
    # Two broadcasts on two devices: claims, outcomes and receipts mix both,
    # while messages are cancelled one by one and one broadcast is cancelled.
    account_id, device_ids = await add_account(store, devices=2)
    made = [
        await create(store, new_broadcast(account_id, device_id), 150) for device_id in device_ids
    ]
    await hold_devices(store, "w1", device_ids, until=T0 + 600_000)
    rng = random.Random(7)
    sent: list[ClaimedMessage] = []
    waiting = await store.read(
        lambda connection: list(
            connection.execute(
                sa.select(messages.c.message_id).where(messages.c.broadcast_id.is_not(None))
            ).scalars()
        )
    )

    async def send(rounds: int) -> None:
        for n in range(rounds):
            claimed = await claim(store, dict.fromkeys(device_ids, 6), T0 + n)
            results = await asyncio.gather(
                *(
                    store.record_outcome(
                        outcome(m, rng.choice(["sent", "sent", "queued", "failed"]), T0 + n)
                    )
                    for m in claimed
                )
            )
            assert all(results)
            sent.extend(claimed)

    async def receive(rounds: int) -> None:
        for _ in range(rounds):
            await asyncio.sleep(0)
            chosen = rng.sample(sent, min(len(sent), 8))
            await asyncio.gather(
                *(
                    store.record_receipt(
                        Receipt(m.device_id, m.message_id, rng.choice(["delivered", "read"]), T0)
                    )
                    for m in chosen
                )
            )

    async def cancel_some(count: int) -> None:
        for message_id in rng.sample(waiting, count):
            await store.write(lifecycle.cancel_message, message_id, account_id=account_id, now=T0)

    async def cancel_broadcast() -> None:
        await asyncio.sleep(0.05)
        await store.write(
            store_broadcasts.cancel_broadcast, made[1].public_id, account_id=account_id, now=T0
        )

    async def fail_held(broadcast_id: int) -> None:
        pks = await store.read(
            lambda connection: list(
                connection.execute(
                    sa.select(messages.c.id)
                    .where(messages.c.broadcast_id == broadcast_id)
                    .order_by(messages.c.id.desc())
                    .limit(20)
                ).scalars()
            )
        )
        await store.write(fail_messages, pks, reason="opted out", now=T0)

    await asyncio.gather(
        send(12),
        send(12),
        receive(30),
        cancel_some(40),
        cancel_broadcast(),
        fail_held(made[0].id),
    )
    # The cancelled broadcast's waiting messages fail a batch at a time, as its planner does.
    while True:
        planned = await store.write(
            plan_broadcast,
            made[1].id,
            now=T0 + 1,
            zone=JAKARTA,
            rng=RNG,
            budget=50,
        )
        assert planned is not None
        if planned.count < 50:
            break
    for broadcast in made:
        totals = await assert_exact(store, broadcast.id)
        assert sum(totals.values()) == 150
    assert (await kept_and_counted(store, made[1].id))[0].get("scheduled", 0) == 0
