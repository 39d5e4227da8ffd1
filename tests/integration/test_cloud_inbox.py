"""The Cloud API's webhook inbox: each delivery recorded once by its bytes, marked when applied."""

import pytest
import sqlalchemy as sa

from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting
from kurir.store.provider_reports import ProviderReports, ReportedMessage, ReportedStatus
from kurir.store.records import InboundMessage
from kurir.store.tables import messages
from kurir.transports.cloud.store import (
    Applied,
    ReceivedWebhook,
    TakenWebhook,
    apply_recorded,
    cloud_webhooks,
    mark_applied,
    record_webhooks,
    take_webhooks,
)
from tests.support.store_data import T0, add_account, message_rows, new_message

S = MessageStatus


def received(device: int, digest: str) -> ReceivedWebhook:
    return ReceivedWebhook(device_id=device, digest=digest, body=f"body {digest}", received_at=T0)


async def rows(store: Store) -> list[tuple[str, str | None, int | None, str | None]]:
    """Each delivery: its digest, its body, when it was applied, and why it was not read."""
    query = sa.select(
        cloud_webhooks.c.digest,
        cloud_webhooks.c.body,
        cloud_webhooks.c.applied_at,
        cloud_webhooks.c.error,
    ).order_by(cloud_webhooks.c.id)
    return await store.database.read(
        lambda connection: [
            (row.digest, row.body, row.applied_at, row.error) for row in connection.execute(query)
        ]
    )


async def test_a_delivery_is_recorded_once_per_device_and_known_as_applied_after(
    store: Store,
) -> None:
    _, (device, other) = await add_account(store, devices=2)
    first, again, theirs = await store.write(
        record_webhooks, [received(device, "a"), received(device, "a"), received(other, "a")]
    )
    assert first == again
    assert not first.applied
    assert theirs.id != first.id  # the same bytes at another device's URL are its own

    await store.write(mark_applied, [Applied(id=first.id, at=T0 + 1)])
    [redelivered] = await store.write(record_webhooks, [received(device, "a")])
    assert (redelivered.id, redelivered.applied) == (first.id, True)
    [unapplied] = await store.write(record_webhooks, [received(other, "a")])
    assert (unapplied.id, unapplied.applied) == (theirs.id, False)


async def test_an_applied_body_is_dropped_and_an_unreadable_one_kept_with_why(
    store: Store,
) -> None:
    _, (device,) = await add_account(store)
    read, unreadable = await store.write(
        record_webhooks, [received(device, "read"), received(device, "unreadable")]
    )
    await store.write(
        mark_applied,
        [
            Applied(id=read.id, at=T0 + 1),
            Applied(id=unreadable.id, at=T0 + 2, error="not a webhook notification"),
        ],
    )
    assert await rows(store) == [
        ("read", None, T0 + 1, None),
        ("unreadable", "body unreadable", T0 + 2, "not a webhook notification"),
    ]


async def sent_message(store: Store) -> tuple[int, int, str]:
    """``(account, device, message id)`` of a message Meta took, as ``wamid.1``."""
    account, (device,) = await add_account(store)
    message = new_message(account, device)
    await store.write(accepting.insert_messages, [message])
    sent = messages.update().values(status=S.SENT, provider_message_id="wamid.1")
    await store.database.write(lambda connection: connection.execute(sent))
    return account, device, message.message_id


def status(account: int, device: int, digest: str, to: MessageStatus) -> TakenWebhook:
    """A delivery saying Meta's ``wamid.1`` reached ``to``, found by Meta's id alone."""
    reports = ProviderReports(
        device_id=device,
        account_id=account,
        statuses=[ReportedStatus("wamid.1", to, T0 + 10)],
        reply_window_ms=60_000,
        opt_out_words=frozenset(),
    )
    return TakenWebhook(received(device, digest), reports)


async def message_status(store: Store) -> str:
    (row,) = await message_rows(store)
    return str(row.status)


async def test_a_delivery_is_recorded_applied_and_marked_at_once_and_a_redelivery_is_not(
    store: Store,
) -> None:
    account, device, _ = await sent_message(store)
    delivered = status(account, device, "a", S.DELIVERED)
    unreadable = TakenWebhook(received(device, "b"), None, "not a webhook notification")
    assert await store.write(take_webhooks, [delivered, delivered, unreadable]) == [
        True,
        False,  # the same bytes twice in one batch
        True,
    ]
    assert await message_status(store) == S.DELIVERED
    assert [(digest, body, error) for digest, body, _, error in await rows(store)] == [
        ("a", None, None),
        ("b", "body b", "not a webhook notification"),
    ]
    # Meta's redelivery of "a", were it to say more this time, changes nothing.
    assert await store.write(take_webhooks, [status(account, device, "a", S.READ)]) == [False]
    assert await message_status(store) == S.DELIVERED


async def test_a_delivery_recorded_but_never_applied_is_applied_when_taken_again_once(
    store: Store,
) -> None:
    account, device, _ = await sent_message(store)
    await store.write(record_webhooks, [received(device, "a")])  # as a failed apply leaves it
    read = status(account, device, "a", S.READ)
    assert await store.write(take_webhooks, [read]) == [True]
    assert await message_status(store) == S.READ
    [(_, body, applied_at, _)] = await rows(store)
    assert (body, applied_at is not None) == (None, True)
    assert await store.write(take_webhooks, [read]) == [False]


async def test_a_batch_that_cannot_be_applied_leaves_nothing_and_each_is_applied_on_its_own(
    store: Store,
) -> None:
    """One delivery whose apply fails fails its batch whole; on its own, it fails alone."""
    account, device, _ = await sent_message(store)
    delivered = status(account, device, "a", S.DELIVERED)
    # A message for a device that is not there: its insert breaks a foreign key.
    broken = TakenWebhook(
        received(device, "b"),
        ProviderReports(
            device_id=device + 1000,
            account_id=account,
            messages=[ReportedMessage(InboundMessage("628111111111", "text", T0, "Halo"))],
            reply_window_ms=60_000,
            opt_out_words=frozenset(),
        ),
    )
    with pytest.raises(sa.exc.IntegrityError):
        await store.write(take_webhooks, [delivered, broken])
    assert await rows(store) == []
    assert await message_status(store) == S.SENT

    applied = []
    for webhook, row in zip(
        [delivered, broken],
        await store.write(record_webhooks, [delivered.received, broken.received]),
        strict=True,
    ):
        try:
            applied.append(
                await store.write(apply_recorded, Applied(id=row.id, at=T0 + 1), webhook.reports)
            )
        except sa.exc.IntegrityError:
            applied.append(False)
    assert applied == [True, False]
    assert await message_status(store) == S.DELIVERED
    kept = [(digest, body, applied is not None) for digest, body, applied, _ in await rows(store)]
    assert kept == [
        ("a", None, True),
        ("b", "body b", False),  # kept, unmarked, for Meta's next delivery
    ]


async def test_a_recorded_delivery_is_applied_only_by_the_transaction_that_marks_it(
    store: Store,
) -> None:
    account, device, _ = await sent_message(store)
    delivered = status(account, device, "a", S.DELIVERED)
    [row] = await store.write(record_webhooks, [delivered.received])
    assert await store.write(mark_applied, [Applied(id=row.id, at=T0 + 1)]) == [True]
    # Another process got there first: this one applies nothing.
    assert not await store.write(apply_recorded, Applied(id=row.id, at=T0 + 2), delivered.reports)
    assert await message_status(store) == S.SENT
