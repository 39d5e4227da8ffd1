"""Accounts, keys and devices written straight into a test database."""

import asyncio
import secrets

import msgspec
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.domain.keys import new_api_key
from kurir.store import Store, accounts
from kurir.store.migrate import upgrade_to_head
from kurir.store.records import Device


class Tenant(msgspec.Struct, frozen=True):
    account_id: int
    api_key: str
    device_id: str
    device_phone: str


def provision_tenant(
    database_url: str,
    *,
    name: str | None = None,
    device_phone: str = "628133333333",
    transport_config: str = "{}",
    min_interval_ms: int = 0,
    max_interval_ms: int = 0,
) -> Tenant:
    """A new account with one key and one sandbox device."""
    upgrade_to_head(database_url)
    return asyncio.run(
        _provision(
            database_url,
            name or f"tenant-{secrets.token_hex(4)}",
            device_phone,
            transport_config,
            min_interval_ms,
            max_interval_ms,
        )
    )


async def _provision(
    database_url: str,
    name: str,
    device_phone: str,
    transport_config: str,
    min_interval_ms: int,
    max_interval_ms: int,
) -> Tenant:
    store = Store(database_url, pool_size=1)
    try:
        now = now_ms()
        key = new_api_key()

        _, device = await store.write(
            accounts.open_account,
            name=name,
            key=key,
            key_label="test",
            device={
                "public_id": f"dev-{secrets.token_hex(4)}",
                "phone": device_phone,
                "transport": "sandbox",
                "config": transport_config,
                "min_interval_ms": min_interval_ms,
                "max_interval_ms": max_interval_ms,
            },
            now=now,
        )
        return Tenant(device.account_id, key, device.public_id, device.phone)
    finally:
        await store.close()


def provision_account(database_url: str, *, name: str | None = None) -> tuple[int, str]:
    """A new account with one key and no device: ``(account_id, api_key)``.

    Nothing ever happens on such an account, so a webhook endpoint of it, at
    whatever URL, is never delivered to.
    """
    upgrade_to_head(database_url)
    return asyncio.run(_account(database_url, name or f"account-{secrets.token_hex(4)}"))


async def _account(database_url: str, name: str) -> tuple[int, str]:
    store = Store(database_url, pool_size=1)
    try:
        now = now_ms()
        key = new_api_key()

        def add(connection: Connection) -> int:
            account = accounts.create_account(connection, name=name, now=now)
            accounts.create_api_key(
                connection, account_id=account.id, key=key, label="test", now=now
            )
            return account.id

        return await store.database.write(add), key
    finally:
        await store.close()


def add_sandbox_devices(
    database_url: str,
    account_id: int,
    count: int,
    *,
    min_interval_ms: int = 0,
    max_interval_ms: int = 0,
    prefix: str = "dev",
) -> list[str]:
    """``count`` more sandbox devices for an account; their public ids."""
    return asyncio.run(
        _add_devices(database_url, account_id, count, min_interval_ms, max_interval_ms, prefix)
    )


async def _add_devices(
    database_url: str,
    account_id: int,
    count: int,
    min_interval_ms: int,
    max_interval_ms: int,
    prefix: str,
) -> list[str]:
    store = Store(database_url, pool_size=1)
    try:
        now = now_ms()

        def add(connection: Connection) -> list[Device]:
            return [
                accounts.add_device(
                    connection,
                    public_id=f"{prefix}-{index:03d}-{secrets.token_hex(2)}",
                    account_id=account_id,
                    phone=f"62812{index:07d}",
                    transport="sandbox",
                    min_interval_ms=min_interval_ms,
                    max_interval_ms=max_interval_ms,
                    created_at=now,
                )
                for index in range(count)
            ]

        return [device.public_id for device in await store.database.write(add)]
    finally:
        await store.close()
