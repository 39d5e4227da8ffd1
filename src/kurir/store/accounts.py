"""Queries on accounts, their API keys and their devices."""

from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.devices import check_device_id
from kurir.domain.events import DeviceStateEvent
from kurir.domain.keys import hash_api_key, key_hint
from kurir.store import lifecycle
from kurir.store.events import NewEvent, record_events
from kurir.store.postgres import lock_for_removal
from kurir.store.records import Account, ApiKey, Device
from kurir.store.tables import accounts, api_keys, devices

DEVICE_COLUMNS = (
    devices.c.id,
    devices.c.public_id,
    devices.c.account_id,
    devices.c.phone,
    devices.c.transport,
    devices.c.config,
    devices.c.min_interval_ms,
    devices.c.max_interval_ms,
    devices.c.created_at,
    devices.c.lease_until,
    devices.c.state,
    devices.c.profile,
)
_DEVICE_FIELDS = [field.name for field in msgspec.structs.fields(Device)]


def device_from_row(row: Any) -> Device:
    """A Device from a row that selected DEVICE_COLUMNS (and maybe more)."""
    return Device(**{name: row._mapping[name] for name in _DEVICE_FIELDS})


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.account_id,
    api_keys.c.hint,
    api_keys.c.label,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
)


def create_account(connection: Connection, *, name: str, now: int) -> Account:
    result = connection.execute(
        accounts.insert().values(name=name, created_at=now).returning(accounts.c.id)
    )
    return Account(result.scalar_one(), name, now)


def find_account(connection: Connection, name_or_id: str) -> Account | None:
    condition = accounts.c.name == name_or_id
    if name_or_id.isdigit():
        condition = sa.or_(condition, accounts.c.id == int(name_or_id))
    row = (connection.execute(sa.select(accounts).where(condition))).first()
    return Account(**row._asdict()) if row is not None else None


def list_accounts(connection: Connection) -> list[Account]:
    rows = connection.execute(sa.select(accounts).order_by(accounts.c.id))
    return [Account(**row._asdict()) for row in rows]


def count_accounts(connection: Connection) -> int:
    return int((connection.execute(sa.select(sa.func.count()).select_from(accounts))).scalar_one())


def create_api_key(
    connection: Connection, *, account_id: int, key: str, label: str, now: int
) -> ApiKey:
    """Store a new key as its hash and hint; the key itself is never written."""
    result = connection.execute(
        api_keys.insert()
        .values(
            account_id=account_id,
            key_hash=hash_api_key(key),
            hint=key_hint(key),
            label=label,
            created_at=now,
        )
        .returning(*_KEY_COLUMNS)
    )
    return ApiKey(**result.one()._asdict())


def open_account(
    connection: Connection,
    *,
    name: str,
    key: str,
    key_label: str,
    device: dict[str, Any],
    now: int,
) -> tuple[Account, Device]:
    """An account with its first key and first device, in one transaction."""
    account = create_account(connection, name=name, now=now)
    create_api_key(connection, account_id=account.id, key=key, label=key_label, now=now)
    added = add_device(connection, account_id=account.id, created_at=now, **device)
    return account, added


def list_api_keys(connection: Connection, *, account_id: int) -> list[ApiKey]:
    rows = connection.execute(
        sa.select(*_KEY_COLUMNS).where(api_keys.c.account_id == account_id).order_by(api_keys.c.id)
    )
    return [ApiKey(**row._asdict()) for row in rows]


def revoke_api_key(connection: Connection, *, account_id: int, key_id: int, now: int) -> bool:
    result = connection.execute(
        api_keys.update()
        .where(
            api_keys.c.id == key_id,
            api_keys.c.account_id == account_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount == 1


def account_for_key(connection: Connection, key_hash: str) -> tuple[int, str] | None:
    """``(account_id, stored_hash)`` for a live key, looked up by its hash."""
    row = (
        connection.execute(
            sa.select(api_keys.c.account_id, api_keys.c.key_hash).where(
                api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def add_device(connection: Connection, /, **values: Any) -> Device:
    """A new device; its id is checked here too, whichever way it came in."""
    check_device_id(values["public_id"])
    result = connection.execute(devices.insert().values(**values).returning(*DEVICE_COLUMNS))
    return device_from_row(result.one())


def find_device(connection: Connection, public_id: str) -> Device | None:
    """A device that has not been removed, whoever owns it: callers check the owner."""
    row = (
        connection.execute(
            sa.select(*DEVICE_COLUMNS).where(
                devices.c.public_id == public_id, devices.c.removed_at.is_(None)
            )
        )
    ).first()
    return device_from_row(row) if row is not None else None


def list_devices(connection: Connection, *, account_id: int | None) -> list[Device]:
    query = sa.select(*DEVICE_COLUMNS).where(devices.c.removed_at.is_(None))
    if account_id is not None:
        query = query.where(devices.c.account_id == account_id)
    rows = connection.execute(query.order_by(devices.c.id))
    return [device_from_row(row) for row in rows]


def remove_device(connection: Connection, *, account_id: int, public_id: str, now: int) -> bool:
    """Retire a device: its messages stay readable; those still waiting fail.

    Failing them (rather than leaving them queued forever) tells the sender
    plainly that they will not go out. Messages left ``sending`` by a worker
    that died fail too: nobody claims them for a removed device. A worker
    sending for the device now learns of the removal with its next outcome
    and fails what it still holds. Once this commits, no message of the
    device is accepted (see `messages.insert_messages`).
    """
    device_id = connection.execute(
        sa.select(devices.c.id).where(
            devices.c.public_id == public_id,
            devices.c.account_id == account_id,
            devices.c.removed_at.is_(None),
        )
    ).scalar()
    if device_id is None:
        return False
    if connection.dialect.name == "postgresql":
        lock_for_removal(connection, device_id)
    removed = connection.execute(
        devices.update()
        .where(devices.c.id == device_id, devices.c.removed_at.is_(None))
        .values(removed_at=now, lease_owner=None, lease_until=None)
    )
    if removed.rowcount == 0:  # another removal of it committed first
        return False
    lifecycle.fail_messages_of_removed_device(connection, device_id=device_id, now=now)
    return True


def set_device_state(connection: Connection, *, device_id: int, state: str, at: int) -> None:
    """Record what a device's transport reports about its connection.

    A report that changes the state causes a ``device.state`` event; one that
    repeats it changes nothing, so ``state_at`` is when the state began.
    """
    state = state[:200]
    changed = connection.execute(
        devices.update()
        .where(devices.c.id == device_id, devices.c.state.is_distinct_from(state))
        .values(state=state, state_at=at)
        .returning(devices.c.account_id, devices.c.public_id)
    ).first()
    if changed is not None:
        event = DeviceStateEvent(device=changed.public_id, state=state, at=at)
        record_events(connection, [NewEvent(changed.account_id, device_id, event)])
