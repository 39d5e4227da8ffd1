"""Rows for store tests: accounts, devices and messages written through the store's own queries."""

import secrets
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.ids import new_message_id
from kurir.domain.status import MessageStatus
from kurir.store import Store, accounts
from kurir.store.records import NewMessage
from kurir.store.tables import devices, messages

#: A fixed point in time (2026-03-01 09:00 in Jakarta, in ms) for tests that pass ``now``.
T0 = 1_772_330_400_000


async def add_account(store: Store, *, devices: int = 1) -> tuple[int, list[int]]:
    """A new account with ``devices`` sandbox devices: ``(account_id, device_ids)``."""

    def add(connection: Connection) -> tuple[int, list[int]]:
        account = accounts.create_account(connection, name=f"acct-{secrets.token_hex(4)}", now=T0)
        added = [
            accounts.add_device(
                connection,
                public_id=f"dev-{secrets.token_hex(4)}",
                account_id=account.id,
                phone="628122222222",
                transport="sandbox",
                created_at=T0,
            )
            for _ in range(devices)
        ]
        return account.id, [device.id for device in added]

    return await store.database.write(add)


async def hold_devices(
    store: Store, worker: str, device_ids: Collection[int], *, until: int
) -> None:
    """Hand ``worker`` the leases of ``device_ids`` until ``until``, taking them from anyone."""
    statement = (
        devices.update()
        .where(devices.c.id.in_(list(device_ids)))
        .values(lease_owner=worker, lease_until=until)
    )
    await store.database.write(lambda connection: connection.execute(statement))


def new_message(
    account_id: int,
    device_id: int,
    *,
    due_at: int = T0,
    key: str | None = None,
    fingerprint: str | None = "fp",
    content: str = '{"type":"button","header":"H","body":"B","footer":"F","buttons":["A"]}',
    message_id: str | None = None,
) -> NewMessage:
    """A message as the API would accept it; ``key`` is its Idempotency-Key."""
    return NewMessage(
        message_id=message_id or new_message_id(),
        account_id=account_id,
        device_id=device_id,
        recipient="628111111111",
        content=content,
        status=MessageStatus.QUEUED if due_at <= T0 else MessageStatus.SCHEDULED,
        due_at=due_at,
        created_at=T0,
        idempotency_key=key,
        request_fingerprint=fingerprint if key is not None else None,
    )


async def message_rows(store: Store, **where: Any) -> list[Any]:
    """The stored messages matching ``column=value`` conditions, in id order."""
    query = sa.select(messages).order_by(messages.c.id)
    for column, value in where.items():
        query = query.where(messages.c[column] == value)
    return await store.database.read(lambda connection: list(connection.execute(query).all()))
