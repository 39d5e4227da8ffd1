"""Each change of a message's status writes its ``message.status`` event in the same transaction.

On real databases, with webhook endpoints put straight into their table: the
events and the deliveries written are read back, or their absence where no
enabled endpoint of the account wants them.
"""

from typing import Any

import pytest

from kurir.domain.events import EVENTS
from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting, accounts, lifecycle
from kurir.store.deliveries import DEFAULT_DEADLINE_MS
from kurir.store.records import ClaimedMessage, NewMessage, Receipt, SendOutcome
from tests.support.event_rows import (
    Written,
    add_endpoint,
    last_event_id,
    public_id,
    statuses,
    written_events,
)
from tests.support.store_data import T0, add_account, hold_devices, message_rows, new_message

S = MessageStatus
LEASE_MS = 60_000
SECOND = 1000
CREATED = T0 // 1000  # what a body's "created" says of T0


async def accept(store: Store, *batch: NewMessage) -> None:
    await store.write(accepting.insert_messages, list(batch))


async def claim(
    store: Store, device: int, *, worker: str = "w1", now: int = T0, lease_ms: int = LEASE_MS
) -> list[ClaimedMessage]:
    await hold_devices(store, worker, [device], until=now + LEASE_MS)
    return await store.write(
        lifecycle.claim_due_messages,
        worker=worker,
        device_limits={device: 10},
        now=now,
        lease_ms=lease_ms,
    )


async def record(store: Store, *outcomes: SendOutcome) -> None:
    await store.write(lifecycle.record_outcomes, list(outcomes))


def outcome(
    claimed: ClaimedMessage, status: MessageStatus, at: int, worker: str = "w1", **more: Any
) -> SendOutcome:
    return SendOutcome(claimed.id, claimed.device_id, worker, status, at, **more)


async def receipts(store: Store, *applied: tuple[ClaimedMessage, MessageStatus, int]) -> None:
    batch = [Receipt(c.device_id, c.message_id, status, at) for c, status, at in applied]
    await store.write(lifecycle.apply_receipts, batch)


async def test_a_message_s_life_is_told_event_by_event(store: Store) -> None:
    account, (device,) = await add_account(store)
    endpoint = await add_endpoint(store, account)
    message = new_message(account, device)
    await accept(store, message)
    assert await written_events(store) == []  # accepting is no change of status

    (claimed,) = await claim(store, device)
    await record(store, outcome(claimed, S.SENT, T0 + 2 * SECOND, provider_message_id="p1"))
    await receipts(store, (claimed, S.DELIVERED, T0 + 3 * SECOND))
    await receipts(store, (claimed, S.READ, T0 + 4 * SECOND))
    # Receipts that change nothing, in one batch: a repeated read, a late delivery.
    await receipts(
        store, (claimed, S.READ, T0 + 5 * SECOND), (claimed, S.DELIVERED, T0 + 6 * SECOND)
    )

    written = await written_events(store)
    device_id = await public_id(store, device)
    mid = message.message_id
    assert [(w.type, w.body) for w in written] == [
        (
            "message.status",
            {
                "event": "message.status",
                "device": device_id,
                "data": {"message_id": mid, "status_code": code, "status": name, "created": at},
            },
        )
        for code, name, at in [
            (1, "Sending", CREATED),
            (2, "Sent", CREATED + 2),
            (3, "Delivered", CREATED + 3),
            (4, "Read", CREATED + 4),
        ]
    ]
    assert [(w.account_id, w.device_id) for w in written] == [(account, device)] * 4
    at = [T0, T0 + 2 * SECOND, T0 + 3 * SECOND, T0 + 4 * SECOND]
    assert [w.created_at for w in written] == at
    assert [w.deliveries for w in written] == [
        [(endpoint, "pending", t, t + DEFAULT_DEADLINE_MS)] for t in at
    ]


async def test_a_receipt_before_the_send_record_tells_of_sent_then_delivered(
    store: Store,
) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    await accept(store, new_message(account, device))
    (claimed,) = await claim(store, device)
    start = await last_event_id(store)

    # The provider's receipt beats the worker's own record of the send.
    await receipts(store, (claimed, S.DELIVERED, T0 + SECOND))
    assert await written_events(store, start) == []
    await record(store, outcome(claimed, S.SENT, T0 + 2 * SECOND))

    # Sent (by the receipt's time, which proves it), then delivered: in order.
    assert statuses(await written_events(store, start)) == [
        (claimed.message_id, "Sent", CREATED + 1),
        (claimed.message_id, "Delivered", CREATED + 1),
    ]
    (row,) = await message_rows(store)
    assert (row.status, row.sent_at, row.delivered_at) == (S.DELIVERED, T0 + SECOND, T0 + SECOND)


async def test_retries_failures_and_late_outcomes(store: Store) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    await accept(store, new_message(account, device), new_message(account, device))
    retried, failed = await claim(store, device)
    start = await last_event_id(store)
    await record(
        store,
        outcome(retried, S.QUEUED, T0 + SECOND, due_at=T0 + 9 * SECOND, error="busy"),
        outcome(failed, S.FAILED, T0 + SECOND, error="no such number"),
        # The same message again, and one from a worker that lost its lease: too late.
        outcome(failed, S.SENT, T0 + SECOND),
        outcome(retried, S.SENT, T0 + SECOND, worker="w0"),
    )
    assert statuses(await written_events(store, start)) == [
        (retried.message_id, "Queued", CREATED + 1),
        (failed.message_id, "Failed", CREATED + 1),
    ]
    (again,) = await claim(store, device, now=T0 + 9 * SECOND)
    assert statuses(await written_events(store, start))[2:] == [
        (again.message_id, "Sending", CREATED + 9)
    ]


async def test_a_message_taken_over_from_a_dead_worker_was_sending_already(
    store: Store,
) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    await accept(store, new_message(account, device))
    (first,) = await claim(store, device, worker="dead", lease_ms=SECOND)
    (taken,) = await claim(store, device, worker="w2", now=T0 + 2 * SECOND)
    assert taken.attempts == 2
    assert statuses(await written_events(store)) == [(first.message_id, "Sending", CREATED)]
    (row,) = await message_rows(store)
    assert (row.lease_owner, row.sending_at) == ("w2", T0)


async def test_released_cancelled_and_failed_with_their_device(store: Store) -> None:
    account, (device, removed) = await add_account(store, devices=2)
    await add_endpoint(store, account)
    released, held = new_message(account, device), new_message(account, device)
    later = new_message(account, device, due_at=T0 + 3_600_000)
    await accept(store, released, held, later)
    await claim(store, device)
    start = await last_event_id(store)

    claimed_pk = {row.message_id: row.id for row in await message_rows(store)}
    pks = [claimed_pk[released.message_id]]
    await store.write(lifecycle.release_claims, worker="w1", pks=pks, now=T0 + SECOND)
    cancelled = await store.write(
        lifecycle.cancel_message, later.message_id, account_id=account, now=T0 + 2 * SECOND
    )
    assert cancelled is not None
    # Too late to cancel one that is being sent: nothing changes, nothing is told.
    await store.write(
        lifecycle.cancel_message, held.message_id, account_id=account, now=T0 + 2 * SECOND
    )
    assert statuses(await written_events(store, start)) == [
        (released.message_id, "Queued", CREATED + 1),
        (later.message_id, "Cancelled", CREATED + 2),
    ]

    # A removed device's waiting message, and one a dead worker left sending.
    waiting, abandoned, kept = (new_message(account, removed) for _ in range(3))
    await accept(store, kept)
    await claim(store, removed, worker="alive")
    await accept(store, abandoned)
    await claim(store, removed, worker="dead", lease_ms=SECOND)
    await accept(store, waiting)
    start = await last_event_id(store)
    removed_id = await public_id(store, removed)
    gone = await store.write(
        accounts.remove_device, account_id=account, public_id=removed_id, now=T0 + 5 * SECOND
    )
    assert gone
    written = await written_events(store, start)
    assert sorted(statuses(written)) == sorted(
        [(waiting.message_id, "Failed", CREATED + 5), (abandoned.message_id, "Failed", CREATED + 5)]
    )
    assert {w.body["device"] for w in written} == {removed_id}

    # What the live worker held is failed once its lease runs out unrecorded.
    start = await last_event_id(store)
    at = T0 + LEASE_MS + SECOND
    await store.write(lifecycle.fail_abandoned_messages_of_removed_devices, now=at)
    await store.write(lifecycle.fail_abandoned_messages_of_removed_devices, now=at + SECOND)
    assert statuses(await written_events(store, start)) == [(kept.message_id, "Failed", at // 1000)]


async def test_a_device_s_state_is_told_when_it_changes(store: Store) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    for state, at in [("connected", T0), ("connected", T0 + SECOND), ("logged out", T0 + 2000)]:
        await store.write(accounts.set_device_state, device_id=device, state=state, at=at)
    written = await written_events(store)
    device_id = await public_id(store, device)
    assert [(w.type, w.body) for w in written] == [
        (
            "device.state",
            {"event": "device.state", "device": device_id, "data": {"state": s, "created": c}},
        )
        for s, c in [("connected", CREATED), ("logged out", CREATED + 2)]
    ]


async def _life_of_one_message(store: Store, account: int, device: int) -> list[Written]:
    await accept(store, new_message(account, device))
    (claimed,) = await claim(store, device)
    await record(store, outcome(claimed, S.SENT, T0 + SECOND))
    await receipts(store, (claimed, S.READ, T0 + 2 * SECOND))
    await store.write(accounts.set_device_state, device_id=device, state="connected", at=T0)
    return await written_events(store)


@pytest.mark.parametrize(
    "endpoint",
    [
        {"enabled": False},
        {"kinds": ["message.reply", "message.received"]},
        {"device_ids": ["dev-another"]},
        {"of_another_account": True},
    ],
)
async def test_nothing_is_written_that_no_enabled_endpoint_wants(
    store: Store, endpoint: dict[str, Any]
) -> None:
    account, (device,) = await add_account(store)
    other, _ = await add_account(store)
    settings = dict(endpoint)  # the parameter is shared by the databases' runs
    owner = other if settings.pop("of_another_account", False) else account
    await add_endpoint(store, owner, **settings)
    assert await _life_of_one_message(store, account, device) == []


async def test_without_endpoints_nothing_is_written(store: Store) -> None:
    account, (device,) = await add_account(store)
    assert await _life_of_one_message(store, account, device) == []


async def test_each_endpoint_gets_what_it_asked_for(store: Store) -> None:
    account, (device, other_device) = await add_account(store, devices=2)
    everything = await add_endpoint(store, account)
    states = await add_endpoint(store, account, kinds=["device.state"])
    this_device = await add_endpoint(
        store, account, kinds=EVENTS, device_ids=[await public_id(store, device)]
    )
    await add_endpoint(store, account, device_ids=[await public_id(store, other_device)])
    written = await _life_of_one_message(store, account, device)
    assert [(w.type, [d[0] for d in w.deliveries]) for w in written] == [
        ("message.status", [everything, this_device]),
        ("message.status", [everything, this_device]),
        ("message.status", [everything, this_device]),
        ("device.state", [everything, states, this_device]),
    ]
