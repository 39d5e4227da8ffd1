"""Broadcasts in the store, on real databases: stored held, planned in batches, paused, cancelled.

Every query takes ``now``, so the plan is followed by passing later times,
never by waiting.
"""

import random
import secrets
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from kurir.domain.broadcast import (
    BROADCAST_CANCELLED,
    HELD_DUE_AT,
    RECIPIENT_OPTED_OUT,
    BroadcastState,
)
from kurir.domain.content import MediaType, TextMessage, encode_content
from kurir.domain.ids import new_message_id
from kurir.domain.inline_media import InlineMedia
from kurir.domain.status import MessageStatus
from kurir.store import Store, accounts, broadcast_insert, lifecycle
from kurir.store import broadcasts as store_broadcasts
from kurir.store.broadcast_records import (
    Broadcast,
    BroadcastMessage,
    NewBroadcast,
    StateConflict,
)
from kurir.store.contacts import opt_out_if_stop, opted_out
from kurir.store.planning import LOOKAHEAD_MS, MAX_BATCH, plan_broadcast, plan_due_broadcasts
from tests.support.store_data import T0, add_account, hold_devices, message_rows

JAKARTA = ZoneInfo("Asia/Jakarta")
RNG = random.Random(3)


def receivers(count: int, prefix: str = "62811") -> list[BroadcastMessage]:
    return [
        BroadcastMessage(f"{prefix}{n:07d}", encode_content(TextMessage(body=f"Halo {n}")))
        for n in range(count)
    ]


def new_broadcast(
    account_id: int, device_id: int, *, interval_ms: int = 0, **fields: object
) -> NewBroadcast:
    values: dict[str, object] = {
        "public_id": secrets.token_hex(8),
        "account_id": account_id,
        "device_id": device_id,
        "title": "Promo",
        "type": "text",
        "starts_at": T0,
        "window_start": None,
        "window_end": None,
        "interval_from_ms": interval_ms,
        "interval_to_ms": interval_ms,
        "invalid": 0,
        "duplicates": 0,
        "opted_out": 0,
        "created_at": T0,
        **fields,
    }
    return NewBroadcast(**values)  # type: ignore[arg-type]  # the fields above, by name


async def create(store: Store, new: NewBroadcast, count: int) -> Broadcast:
    created = await store.write(
        store_broadcasts.create_broadcast, new, receivers(count), zone=JAKARTA, rng=RNG
    )
    assert created is not None
    return created


async def due_times(store: Store, broadcast: Broadcast) -> list[int]:
    rows = await message_rows(store, broadcast_id=broadcast.id)
    return [row.due_at for row in rows]


async def test_a_broadcast_is_stored_held_and_its_first_batch_planned_at_once(
    store: Store,
) -> None:
    account_id, [device_id] = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id), MAX_BATCH + 1500)
    assert (broadcast.total, broadcast.state) == (MAX_BATCH + 1500, BroadcastState.ACTIVE)
    rows = await message_rows(store, broadcast_id=broadcast.id)
    # In the receivers' order, each an ordinary scheduled message.
    assert [row.recipient for row in rows] == [r.recipient for r in receivers(len(rows))]
    assert {row.status for row in rows} == {MessageStatus.SCHEDULED}
    assert Counter(row.due_at == HELD_DUE_AT for row in rows) == {True: 1500, False: MAX_BATCH}
    progress = await store.read(store_broadcasts.progress, broadcast.id)
    assert progress.by_status == {"scheduled": MAX_BATCH + 1500}
    assert progress.next_due_at == T0

    # The batch was full: the planner goes on at once, a batch a broadcast a pass.
    first = await store.write(plan_due_broadcasts, now=T0, zone=JAKARTA, rng=RNG)
    assert first.devices == {device_id}
    assert first.next_plan_at == T0
    second = await store.write(plan_due_broadcasts, now=T0, zone=JAKARTA, rng=RNG)
    assert second.next_plan_at is None
    assert HELD_DUE_AT not in await due_times(store, broadcast)


async def test_a_paced_broadcast_is_planned_a_lookahead_at_a_time(store: Store) -> None:
    account_id, [device_id] = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id, interval_ms=10_000), 30)
    planned = [at for at in await due_times(store, broadcast) if at != HELD_DUE_AT]
    assert planned == [T0 + n * 10_000 for n in range(LOOKAHEAD_MS // 10_000 + 1)]
    assert (await store.write(plan_due_broadcasts, now=T0, zone=JAKARTA, rng=RNG)).devices == set()
    # Half the lookahead is used: the plan goes on from its last message.
    later = T0 + LOOKAHEAD_MS // 2
    assert (await store.write(plan_due_broadcasts, now=later, zone=JAKARTA, rng=RNG)).devices == {
        device_id
    }
    planned = [at for at in await due_times(store, broadcast) if at != HELD_DUE_AT]
    assert planned == [T0 + n * 10_000 for n in range(len(planned))]
    assert planned[-1] == later + LOOKAHEAD_MS

    # Nothing held is ever claimed, however late it is asked.
    await hold_devices(store, "w1", [device_id], until=HELD_DUE_AT)
    claimed = await store.write(
        lifecycle.claim_due_messages,
        worker="w1",
        device_limits={device_id: 1000},
        now=HELD_DUE_AT - 1,
        lease_ms=1000,
    )
    assert len(claimed) == len(planned)


async def test_pause_holds_the_plan_and_resume_plans_again_from_now(store: Store) -> None:
    account_id, [device_id] = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id, interval_ms=10_000), 20)
    paused = await store.write(
        store_broadcasts.pause_broadcast, broadcast.public_id, account_id=account_id, now=T0 + 1
    )
    assert isinstance(paused, Broadcast)
    assert paused.state == BroadcastState.PAUSED
    assert set(await due_times(store, broadcast)) == {HELD_DUE_AT}
    assert (await store.read(store_broadcasts.progress, broadcast.id)).next_due_at is None
    # Nothing is planned while paused; pausing again changes nothing.
    pass_ = await store.write(plan_due_broadcasts, now=T0 + 3_600_000, zone=JAKARTA, rng=RNG)
    assert pass_.devices == set()
    again = await store.write(
        store_broadcasts.pause_broadcast, broadcast.public_id, account_id=account_id, now=T0 + 2
    )
    assert isinstance(again, Broadcast)
    assert again.updated_at == T0 + 1

    resumed_at = T0 + 3_600_000
    resumed = await store.write(
        store_broadcasts.resume_broadcast,
        broadcast.public_id,
        account_id=account_id,
        now=resumed_at,
        zone=JAKARTA,
        rng=RNG,
    )
    assert isinstance(resumed, Broadcast)
    assert resumed.state == BroadcastState.ACTIVE
    planned = sorted(at for at in await due_times(store, broadcast) if at != HELD_DUE_AT)
    assert planned[0] == resumed_at
    assert planned == [resumed_at + n * 10_000 for n in range(len(planned))]


async def test_cancel_fails_every_message_not_yet_sending(store: Store) -> None:
    account_id, [device_id] = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id), MAX_BATCH + 10)
    await hold_devices(store, "w1", [device_id], until=T0 + 60_000)
    claimed = await store.write(
        lifecycle.claim_due_messages,
        worker="w1",
        device_limits={device_id: 2},
        now=T0,
        lease_ms=10_000,
    )
    assert len(claimed) == 2

    cancelled = await store.write(
        store_broadcasts.cancel_broadcast, broadcast.public_id, account_id=account_id, now=T0 + 5
    )
    assert isinstance(cancelled, Broadcast)
    assert cancelled.state == BroadcastState.CANCELLED
    # From this commit no worker claims any of it.
    assert (
        await store.write(
            lifecycle.claim_due_messages,
            worker="w1",
            device_limits={device_id: 50},
            now=T0 + 6,
            lease_ms=10_000,
        )
        == []
    )
    # The rest fail a batch at a time (the API drives it; the planner would too).
    while True:
        failed = await store.write(
            plan_broadcast, broadcast.id, now=T0 + 7, zone=JAKARTA, rng=RNG, budget=400
        )
        assert failed is not None
        if failed.count < 400:
            break
    rows = await message_rows(store, broadcast_id=broadcast.id)
    statuses = Counter(row.status for row in rows)
    assert statuses == {MessageStatus.FAILED: MAX_BATCH + 8, MessageStatus.SENDING: 2}
    assert {row.last_error for row in rows if row.status == MessageStatus.FAILED} == {
        BROADCAST_CANCELLED
    }
    conflict = await store.write(
        store_broadcasts.resume_broadcast,
        broadcast.public_id,
        account_id=account_id,
        now=T0 + 8,
        zone=JAKARTA,
        rng=RNG,
    )
    assert conflict == StateConflict("cancelled")


async def test_a_stop_reply_opts_out_and_fails_what_waits_for_that_recipient(
    store: Store,
) -> None:
    account_id, [device_id] = await add_account(store)
    other_account, [other_device] = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id, interval_ms=10_000), 30)
    theirs = await create(store, new_broadcast(other_account, other_device), 3)
    planned, held = receivers(30)[1].recipient, receivers(30)[25].recipient

    async def reply(recipient: str, text: str) -> bool:
        return await store.write(
            lambda c: opt_out_if_stop(c, account_id, recipient, text, now=T0 + 9)
        )

    assert await reply(planned, "stop sending") is False
    assert await reply(planned, "Stop!") is True
    assert await reply(held, "STOP") is True
    assert await store.read(
        lambda c: opted_out(c, account_id=account_id, phones=[planned, held, "628999"])
    ) == {planned, held}
    rows = {row.recipient: row for row in await message_rows(store, broadcast_id=broadcast.id)}
    assert (rows[planned].status, rows[planned].last_error) == ("failed", RECIPIENT_OPTED_OUT)
    assert rows[held].status == MessageStatus.SCHEDULED  # not planned yet: when it is
    for now in range(T0, T0 + 400_000, LOOKAHEAD_MS // 2):
        await store.write(plan_due_broadcasts, now=now, zone=JAKARTA, rng=RNG)
    rows = {row.recipient: row for row in await message_rows(store, broadcast_id=broadcast.id)}
    assert (rows[held].status, rows[held].last_error) == ("failed", RECIPIENT_OPTED_OUT)
    assert Counter(row.status for row in rows.values()) == {"scheduled": 28, "failed": 2}
    # Another account's broadcast to the same number is not its business.
    assert {row.status for row in await message_rows(store, broadcast_id=theirs.id)} == {
        "scheduled"
    }


async def test_a_message_id_taken_meanwhile_is_replaced_and_nothing_is_lost(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process took an id this one makes (2^-20 a pair in the same
    # millisecond): the copy on PostgreSQL fails whole and the rows go in the
    # slower way, which skips the one that conflicts and gives it a new id.
    account_id, [device_id] = await add_account(store)
    first = await create(store, new_broadcast(account_id, device_id), 1)
    [taken] = [row.message_id for row in await message_rows(store, broadcast_id=first.id)]
    made = iter([taken, *(new_message_id() for _ in range(5))])
    monkeypatch.setattr(broadcast_insert, "new_message_id", lambda: next(made))

    second = await create(store, new_broadcast(account_id, device_id), 5)
    rows = await message_rows(store, broadcast_id=second.id)
    assert sorted(row.recipient for row in rows) == [r.recipient for r in receivers(5)]
    assert taken not in {row.message_id for row in rows}
    assert second.total == 5
    assert len(await message_rows(store, message_id=taken)) == 1


async def test_nothing_is_stored_for_a_removed_device(store: Store) -> None:
    account_id, [device_id, spare] = await add_account(store, devices=2)
    removed = await store.database.read(lambda c: accounts.list_devices(c, account_id=account_id))
    await store.write(
        accounts.remove_device, account_id=account_id, public_id=removed[0].public_id, now=T0
    )
    result = await store.write(
        store_broadcasts.create_broadcast,
        new_broadcast(account_id, device_id),
        receivers(3),
        zone=JAKARTA,
        rng=RNG,
    )
    assert result is None
    assert await message_rows(store, account_id=account_id) == []
    listed = await store.read(store_broadcasts.list_broadcasts, account_id=account_id, limit=10)
    assert listed == []
    assert spare


async def test_the_media_is_stored_once_and_read_only_for_its_device(store: Store) -> None:
    account_id, [device_id, other] = await add_account(store, devices=2)
    media = InlineMedia(media_type=MediaType.IMAGE, content_type="image/png", data=b"\x89PNG..")
    broadcast = await create(
        store, new_broadcast(account_id, device_id, type="media", media=media), 2
    )
    found = await store.read(
        store_broadcasts.stored_media, broadcast.public_id, device_id=device_id
    )
    assert found == ("image", "image/png", b"\x89PNG..")
    assert (
        await store.read(store_broadcasts.stored_media, broadcast.public_id, device_id=other)
        is None
    )


async def test_another_accounts_broadcast_is_not_found(store: Store) -> None:
    account_id, [device_id] = await add_account(store)
    other_account, _ = await add_account(store)
    broadcast = await create(store, new_broadcast(account_id, device_id), 1)
    for action in (store_broadcasts.pause_broadcast, store_broadcasts.cancel_broadcast):
        assert (
            await store.write(action, broadcast.public_id, account_id=other_account, now=T0) is None
        )
    assert (
        await store.read(
            store_broadcasts.get_broadcast, broadcast.public_id, account_id=other_account
        )
        is None
    )
