"""A WhatsApp Web device's session keys are deleted when it is disconnected or removed.

whatsmeow deletes a device's keys itself only when a connected session logs
out. A device disconnected through Kurir while its session is not
connected, and a removed device, leave them behind unless Kurir deletes
them: on SQLite the device's own file, on PostgreSQL its rows in whatsmeow's
shared tables. The fake client keeps its keys where whatsmeow would (on
PostgreSQL in the tables the real neonize makes), so both are checked here.
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kurir.store import Store, accounts
from kurir.transports import DeviceInfo
from kurir.transports.whatsapp_web import WhatsAppWebTransport, process
from kurir.transports.whatsapp_web import store as db
from kurir.transports.whatsapp_web.keystore import key_location
from tests.integration.test_whatsapp_web_session import (
    add_device,
    device_state,
    eventually,
    open_transport,
    pair,
)
from tests.support.store_data import T0
from tests.support.whatsapp_world import FakePhone, FakeWhatsApp

JID = "628122222222:7@s.whatsapp.net"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWhatsApp:
    fake = FakeWhatsApp(tmp_path / "whatsapp", qr_seconds=0.4, qr_count=4)
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(process, "PING_EVERY_S", 0.3)
    return fake


async def keys_of(store: Store, device_id: int) -> int:
    """How many of whatsmeow's rows hold the device's keys (0: none, or no file)."""
    location, shared = key_location(store.database.url, device_id)
    if not shared:
        if not await asyncio.to_thread(Path(location).exists):
            return 0
        with sqlite3.connect(location) as keys:
            found = keys.execute("SELECT count(*) FROM whatsmeow_device WHERE jid = ?", (JID,))
            rows: int = found.fetchone()[0]
            found = keys.execute(
                "SELECT count(*) FROM whatsmeow_sessions WHERE our_jid = ?", (JID,)
            )
            return rows + int(found.fetchone()[0])

    def count(connection: sa.Connection) -> int:
        total = 0
        for table, column in (
            ("whatsmeow_device", "jid"),
            ("whatsmeow_sessions", "our_jid"),
            ("whatsmeow_privacy_tokens", "our_jid"),
        ):
            query = sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :jid")  # noqa: S608
            total += connection.execute(query, {"jid": JID}).scalar_one()
        return total

    return await store.database.read(count)


@pytest.fixture
async def paired(
    store: Store, world: FakeWhatsApp
) -> AsyncIterator[tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]]:
    device = await add_device(store, "wa-keys")
    transport = await open_transport(store, device)
    phone = world.phone(device.public_id)
    try:
        await pair(store, device, phone)
        # A device row, its session with a contact, and (PostgreSQL) a privacy token.
        assert await keys_of(store, device.id) == (2 if is_sqlite(store) else 3)
        yield transport, device, phone
    finally:
        await transport.close()


def is_sqlite(store: Store) -> bool:
    return not key_location(store.database.url, 0)[1]


async def test_a_disconnect_while_not_connected_deletes_the_keys(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    _transport, device, phone = paired
    phone.drop_connection()

    async def dropped() -> bool:
        return await device_state(store, device.id) == "disconnected"

    await eventually(dropped, what="the connection to drop")
    await store.write(db.request_disconnect, device_id=device.id, now=T0)

    async def done() -> bool:
        row = await store.read(db.session_row, device_id=device.id)
        return row is not None and not row.disconnect_requested

    await eventually(done, what="the disconnect to be served")
    assert await keys_of(store, device.id) == 0
    row = await store.read(db.session_row, device_id=device.id)
    assert row is not None
    assert row.jid is None
    assert await device_state(store, device.id) == "unpaired"


async def test_a_removed_device_held_by_a_worker_has_its_keys_deleted_as_it_closes(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, device, _phone = paired
    removed = await store.write(
        accounts.remove_device, account_id=device.account_id, public_id="wa-keys", now=T0
    )
    assert removed
    await transport.close()  # as the worker does when it learns of the removal
    assert await keys_of(store, device.id) == 0


async def test_a_device_closed_but_not_removed_keeps_its_keys(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, device, _phone = paired
    await transport.close()  # handed over to another worker: it must not pair again
    assert await keys_of(store, device.id) > 0


async def test_a_device_removed_while_no_worker_holds_it_has_its_keys_deleted(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, device, _phone = paired
    await transport.close()
    assert await store.write(
        accounts.remove_device, account_id=device.account_id, public_id="wa-keys", now=T0
    )
    # What `kurir devices remove` calls once the removal has committed.
    await WhatsAppWebTransport.forget_device(store, device.id)
    assert await keys_of(store, device.id) == 0
