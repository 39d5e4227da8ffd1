"""Number checks through the database: asked for by an API process, answered by the worker.

A number asked about is a row whose ``checked_at`` is below zero until the
worker writes WhatsApp's answer; on each real database, a check asked for
voids the earlier answer, and the worker sees when the latest was asked.
"""

import sqlalchemy as sa

from kurir.store import Store, accounts
from kurir.transports.whatsapp_web import store as db
from tests.support.store_data import T0


async def add_devices(store: Store, count: int) -> list[int]:
    def add(connection: sa.Connection) -> list[int]:
        account = accounts.create_account(connection, name="acct-numbers", now=T0)
        return [
            accounts.add_device(
                connection,
                public_id=f"wa-numbers-{n}",
                account_id=account.id,
                phone="628122222222",
                transport="whatsapp-web",
                created_at=T0,
            ).id
            for n in range(count)
        ]

    return await store.database.write(add)


async def test_a_check_asked_for_is_pending_until_answered_and_voids_the_earlier_answer(
    store: Store,
) -> None:
    first, second = await add_devices(store, 2)
    a, b, c = "628111111111", "628111111112", "628111111113"
    await store.write(db.remember_numbers, device_id=first, found={a: True, b: True}, now=T0)
    assert await store.read(db.known_numbers, device_id=first, phones=[a, b, c]) == {
        a: True,
        b: True,
    }

    await store.write(db.request_check, device_id=first, phones=[b, c], now=T0 + 5)
    await store.write(db.request_check, device_id=second, phones=[a], now=T0 + 7)
    # Asked afresh: b's earlier answer no longer counts, nor does c's placeholder.
    assert await store.read(db.known_numbers, device_id=first, phones=[a, b, c]) == {a: True}
    assert await store.read(db.checks_asked, device_id=first) == [b, c]
    assert await store.read(db.requests_of, [first, second]) == (
        [],  # neither was ever asked to pair
        {first: T0 + 5, second: T0 + 7},
    )

    await store.write(db.request_check, device_id=first, phones=[c], now=T0 + 9)
    assert (await store.read(db.requests_of, [first]))[1] == {first: T0 + 9}

    await store.write(db.remember_numbers, device_id=first, found={b: False, c: True}, now=T0 + 10)
    assert await store.read(db.known_numbers, device_id=first, phones=[a, b, c]) == {
        a: True,
        b: False,
        c: True,
    }
    assert await store.read(db.checks_asked, device_id=first) == []
    assert (await store.read(db.requests_of, [first, second]))[1] == {second: T0 + 7}
