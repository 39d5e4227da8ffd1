"""A removed device, on real databases: nothing more is accepted for it, nothing left waiting.

The API caches device lookups, so the store is what refuses: the accepting
transaction checks the batch's devices, and on PostgreSQL a removal and an
accept in progress wait for each other.
"""

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kurir.domain.status import DEVICE_REMOVED, MessageStatus
from kurir.store import Store, accepting, accounts, lifecycle
from kurir.store.database import driver_url
from kurir.store.records import Accepted, DeviceRemoved, IdempotencyMismatch, SendOutcome
from kurir.store.tables import devices
from tests.support.store_data import T0, add_account, hold_devices, message_rows, new_message

LEASE_MS = 60_000


async def public_id(store: Store, device_id: int) -> str:
    query = sa.select(devices.c.public_id).where(devices.c.id == device_id)
    found: str = await store.database.read(
        lambda connection: connection.execute(query).scalar_one()
    )
    return found


async def remove(store: Store, account_id: int, device_id: int, now: int = T0 + 10) -> bool:
    return await store.write(
        accounts.remove_device,
        account_id=account_id,
        public_id=await public_id(store, device_id),
        now=now,
    )


async def test_messages_for_a_removed_device_are_refused_and_the_rest_stored(
    store: Store,
) -> None:
    account, (kept, gone) = await add_account(store, devices=2)
    before = new_message(account, gone, key="k1", fingerprint="body-1")
    await store.write(accepting.insert_messages, [before])
    assert await remove(store, account, gone)

    batch = [
        new_message(account, kept),
        new_message(account, gone),
        new_message(account, gone, key="k2"),
        # A retry of a request accepted before the removal gets its first answer.
        new_message(account, gone, key="k1", fingerprint="body-1"),
        new_message(account, gone, key="k1", fingerprint="body-2"),
        new_message(account, kept, key="k3"),
    ]
    answers = await store.write(accepting.insert_messages, batch)
    assert answers == [
        Accepted(batch[0].message_id, batch[0].recipient),
        DeviceRemoved(),
        DeviceRemoved(),
        Accepted(before.message_id, before.recipient, replayed=True),
        IdempotencyMismatch(before.message_id),
        Accepted(batch[5].message_id, batch[5].recipient),
    ]
    # Through the group committer, as the API sends them.
    assert await store.accept(new_message(account, gone)) == DeviceRemoved()

    rows = await message_rows(store)
    assert [row.message_id for row in rows] == [
        before.message_id,
        batch[0].message_id,
        batch[5].message_id,
    ]
    assert (rows[0].status, rows[0].last_error) == (MessageStatus.FAILED, DEVICE_REMOVED)


async def test_a_removal_fails_what_waits_and_leaves_what_a_worker_holds(store: Store) -> None:
    account, (device,) = await add_account(store)
    batch = [new_message(account, device) for _ in range(3)]
    batch.append(new_message(account, device, due_at=T0 + 3_600_000))
    await store.write(accepting.insert_messages, batch)
    # One claimed by a worker that is sending it; one by a worker whose lease ran out.
    await hold_devices(store, "alive", [device], until=T0 + LEASE_MS)
    (held,) = await store.write(
        lifecycle.claim_due_messages,
        worker="alive",
        device_limits={device: 1},
        now=T0,
        lease_ms=LEASE_MS,
    )
    await hold_devices(store, "dead", [device], until=T0 + LEASE_MS)
    (abandoned,) = await store.write(
        lifecycle.claim_due_messages,
        worker="dead",
        device_limits={device: 1},
        now=T0,
        lease_ms=5,
    )
    assert await remove(store, account, device, now=T0 + 10)
    assert not await remove(store, account, device, now=T0 + 11)

    rows = {row.id: row for row in await message_rows(store)}
    assert rows.pop(held.id).status == MessageStatus.SENDING
    assert {(row.status, row.last_error, row.failed_at) for row in rows.values()} == {
        (MessageStatus.FAILED, DEVICE_REMOVED, T0 + 10)
    }
    assert abandoned.id in rows

    # The worker still holding one learns of the removal when it records the outcome.
    sent = SendOutcome(held.id, device, "alive", MessageStatus.SENT, T0 + 20)
    assert await store.record_outcome(sent) is False
    (row,) = await message_rows(store, id=held.id)
    assert row.status == MessageStatus.SENT


async def test_an_outcome_tells_whether_the_device_is_in_service(store: Store) -> None:
    account, (kept, gone) = await add_account(store, devices=2)
    await store.write(
        accepting.insert_messages, [new_message(account, kept), new_message(account, gone)]
    )
    await hold_devices(store, "w", [kept, gone], until=T0 + LEASE_MS)
    claimed = await store.write(
        lifecycle.claim_due_messages,
        worker="w",
        device_limits={kept: 1, gone: 1},
        now=T0,
        lease_ms=LEASE_MS,
    )
    assert await remove(store, account, gone)
    outcomes = [SendOutcome(c.id, c.device_id, "w", MessageStatus.SENT, T0 + 1) for c in claimed]
    in_service = await asyncio.gather(*(store.record_outcome(o) for o in outcomes))
    assert dict(zip([c.device_id for c in claimed], in_service, strict=True)) == {
        kept: True,
        gone: False,
    }


@pytest.mark.postgres
async def test_on_postgresql_a_removal_and_an_accept_wait_for_each_other(
    store: Store, database_url: str
) -> None:
    if store.is_sqlite:
        pytest.skip("SQLite runs one write transaction at a time anyway")
    account, (first, second) = await add_account(store, devices=2)
    engine = create_async_engine(driver_url(database_url))
    try:
        # An accept under way: the removal waits for it, then fails its message.
        async with engine.begin() as transaction:
            message = new_message(account, first)
            answers = await transaction.run_sync(accepting.insert_messages, [message])
            assert answers == [Accepted(message.message_id, message.recipient)]
            removal = asyncio.create_task(remove(store, account, first))
            await asyncio.sleep(0.5)
            assert not removal.done()
        assert await removal
        (row,) = await message_rows(store, message_id=message.message_id)
        assert (row.status, row.last_error) == (MessageStatus.FAILED, DEVICE_REMOVED)

        # A removal under way: the accept waits for it, then refuses.
        removed_id = await public_id(store, second)
        async with engine.begin() as removing:
            assert await removing.run_sync(
                accounts.remove_device, account_id=account, public_id=removed_id, now=T0
            )
            accept = asyncio.create_task(store.accept(new_message(account, second)))
            await asyncio.sleep(0.5)
            assert not accept.done()
        assert await accept == DeviceRemoved()
        assert await message_rows(store, device_id=second) == []
    finally:
        await engine.dispose()
