"""`kurir.store.bulk` on both databases: ids made beforehand, rows in at the driver's speed."""

import functools

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.store import Store, accounts
from kurir.store.bulk import insert_rows, reserve_ids
from kurir.store.tables import events

_COLUMNS = ("id", "public_id", "account_id", "device_id", "type", "body", "created_at")


def _setup(connection: Connection) -> tuple[int, int]:
    account = accounts.create_account(connection, name="bulk", now=now_ms())
    device = accounts.add_device(
        connection,
        public_id="bulk-device",
        account_id=account.id,
        phone="628111111111",
        transport="sandbox",
        created_at=now_ms(),
    )
    return account.id, device.id


def _insert(connection: Connection, owner: tuple[int, int], count: int, tag: str) -> list[int]:
    ids = reserve_ids(connection, events, count)
    rows = [(pk, f"evt_{tag}{n}", *owner, "message.status", "{}", 1) for n, pk in enumerate(ids)]
    insert_rows(connection, events, _COLUMNS, rows)
    return ids


async def test_reserved_ids_are_new_ascending_and_take_the_rows(store: Store) -> None:
    owner = await store.write(_setup)
    first = await store.write(functools.partial(_insert, owner=owner, count=3, tag="a"))
    second = await store.write(functools.partial(_insert, owner=owner, count=2, tag="b"))
    assert first == sorted(first)
    assert second == sorted(second)
    assert max(first) < min(second)
    stored = await store.read(
        lambda c: [tuple(r) for r in c.execute(sa.select(events.c.id, events.c.public_id))]
    )
    assert sorted(stored) == [
        *((pk, f"evt_a{n}") for n, pk in enumerate(first)),
        *((pk, f"evt_b{n}") for n, pk in enumerate(second)),
    ]


async def test_conflicting_rows_are_skipped_when_asked(store: Store) -> None:
    owner = await store.write(_setup)
    (pk,) = await store.write(functools.partial(_insert, owner=owner, count=1, tag="a"))

    def again(connection: Connection) -> None:
        (fresh,) = reserve_ids(connection, events, 1)
        row = (*owner, "message.status", "{}", 1)
        rows = [(pk, "evt_a0", *row), (fresh, "evt_new", *row)]
        insert_rows(connection, events, _COLUMNS, rows, skip_conflicts=True)

    await store.write(again)
    count = await store.read(lambda c: c.execute(sa.select(sa.func.count()).select_from(events)))
    assert count.scalar_one() == 2
