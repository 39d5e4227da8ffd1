"""The Cloud API's webhook inbox: each delivery recorded once by its bytes, marked when applied."""

import sqlalchemy as sa

from kurir.store import Store
from kurir.transports.cloud.store import (
    Applied,
    ReceivedWebhook,
    cloud_webhooks,
    mark_applied,
    record_webhooks,
)
from tests.support.store_data import T0, add_account


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
