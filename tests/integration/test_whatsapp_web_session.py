"""WhatsApp Web devices in a worker: real session processes, each with the fake neonize client.

The transport is used as the dispatcher uses it (open, send, close) with the
store's own sink, on a real database; the session processes are real
processes speaking the real protocol, so crashes and hangs are real too.
"""

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import MediaMessage, MediaType, TextMessage
from kurir.store import Store, accounts
from kurir.store.device_events import DeviceEvents
from kurir.store.tables import devices
from kurir.transports import (
    DeviceInfo,
    MediaFile,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    TransportContext,
    build_transport,
)
from kurir.transports.whatsapp_web import WhatsAppWebTransport, process
from kurir.transports.whatsapp_web import store as db
from tests.support.store_data import T0
from tests.support.whatsapp_world import FakePhone, FakeWhatsApp

T = TypeVar("T")


@pytest.fixture
def database_url(sqlite_database_url: str) -> str:
    """SQLite only: the sessions do not touch Kurir's database, and each test costs seconds."""
    return sqlite_database_url


def fake_whatsapp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWhatsApp:
    """The fake WhatsApp, which sessions started from now on talk to, pinged often."""
    fake = FakeWhatsApp(tmp_path / "whatsapp", qr_seconds=0.4, qr_count=4)
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(process, "PING_EVERY_S", 0.3)
    return fake


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWhatsApp:
    fake = fake_whatsapp(tmp_path, monkeypatch)
    # A hang is noticed in about a second instead of fifteen.
    monkeypatch.setattr(process, "PING_TIMEOUT_S", 0.8)
    return fake


async def add_device(store: Store, public_id: str, config: str = "{}") -> DeviceInfo:
    def add(connection: sa.Connection) -> DeviceInfo:
        account = accounts.create_account(connection, name=f"acct-{public_id}", now=T0)
        device = accounts.add_device(
            connection,
            public_id=public_id,
            account_id=account.id,
            phone="628122222222",
            transport="whatsapp-web",
            config=config,
            created_at=T0,
        )
        return DeviceInfo(
            id=device.id, public_id=public_id, account_id=account.id, phone=device.phone
        )

    return await store.database.write(add)


async def open_transport(
    store: Store, device: DeviceInfo, config: str = "{}"
) -> WhatsAppWebTransport:
    context = TransportContext(
        device=device,
        events=DeviceEvents(store, device_id=device.id, account_id=device.account_id),
        store=store,
    )
    transport = build_transport("whatsapp-web", config, context, default_region="ID")
    assert isinstance(transport, WhatsAppWebTransport)
    await transport.open()
    return transport


async def device_state(store: Store, device_id: int) -> str | None:
    query = sa.select(devices.c.state).where(devices.c.id == device_id)
    return await store.database.read(lambda connection: connection.execute(query).scalar())


async def eventually(
    check: Callable[[], Awaitable[T | None]], within: float = 10.0, what: str = "it"
) -> T:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {within:g}s for {what}")
        await asyncio.sleep(0.05)


async def pair(store: Store, device: DeviceInfo, phone: FakePhone) -> None:
    """Ask for pairing, as the API does, and scan the QR code the worker shows."""
    await store.write(db.request_pairing, device_id=device.id, phone=None, now=T0)

    async def shown() -> str | None:
        row = await store.read(db.session_row, device_id=device.id)
        return row.qr_code if row is not None else None

    code = await eventually(shown, what="a QR code in the database")
    assert code == phone.qr()
    phone.scan(code)

    async def connected() -> bool:
        return await device_state(store, device.id) == "connected"

    await eventually(connected, what="the device to connect")


def text(
    message_id: str, device: DeviceInfo, body: str, to: str = "628111111111"
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        device=device,
        recipient=to,
        content=TextMessage(body=body),
        attempt=1,
    )


#: A paired device: its open transport, its row, and the phone it is linked to.
Paired = tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]


@contextlib.asynccontextmanager
async def paired_device(store: Store, world: FakeWhatsApp, public_id: str) -> AsyncIterator[Paired]:
    """A new device, paired with its phone by QR, its transport open for the block."""
    device = await add_device(store, public_id)
    transport = await open_transport(store, device)
    phone = world.phone(device.public_id)
    try:
        await pair(store, device, phone)
        yield transport, device, phone
    finally:
        await transport.close()


@pytest.fixture
async def paired(store: Store, world: FakeWhatsApp) -> AsyncIterator[Paired]:
    async with paired_device(store, world, "wa-main") as devices:
        yield devices


async def test_pairing_by_qr_then_each_kind_goes_out(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, device, phone = paired
    row = await store.read(db.session_row, device_id=device.id)
    assert row is not None
    assert row.jid == "628122222222:7@s.whatsapp.net"
    assert row.qr_code is None
    assert row.pair_result == "paired"

    first = await transport.send(text("3EB0000000000000000A", device, "Halo"))
    image = OutboundMessage(
        message_id="3EB0000000000000000B",
        device=device,
        recipient="628111111111",
        content=MediaMessage(url="https://example.com/a.png", caption="Foto"),
        attempt=1,
        media=MediaFile(
            media_type=MediaType.IMAGE,
            content_type="image/png",
            data=bytes.fromhex("89504e470d0a1a0a") + b"\0" * 64,
            url="https://example.com/a.png",
        ),
    )
    second = await transport.send(image)
    buttons = OutboundMessage(
        message_id="3EB0000000000000000C",
        device=device,
        recipient="628111111111",
        content=ButtonMessage(
            header="Header", body="Pilih salah satu:", footer="Footer", buttons=("Opsi 1", "Opsi 2")
        ),
        attempt=1,
    )
    third = await transport.send(buttons)

    sent = phone.sent()
    assert [record[0] for record in sent] == [first, second, third]
    assert sent[0][2].conversation == "Halo"
    assert sent[1][2].imageMessage.caption == "Foto"
    assert sent[1][2].imageMessage.mimetype == "image/png"
    assert sent[2][2].conversation == (
        "*Header*\nPilih salah satu:\n\n1. Opsi 1\n2. Opsi 2\n\n_Footer_"
    )
    mapped = await store.read(
        db.find_sent, device_id=device.id, provider_ids=[first, second, third]
    )
    assert mapped == {
        first: "3EB0000000000000000A",
        second: "3EB0000000000000000B",
        third: "3EB0000000000000000C",
    }


async def test_errors_of_whatsapp_are_transient_or_permanent(
    paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone],
) -> None:
    transport, device, phone = paired
    phone.fail_sends("info query timed out")
    phone.fail_sends("server returned error 405")

    async def heard() -> bool:
        return phone.heard()

    await eventually(heard, what="the fake to take the failures")
    with pytest.raises(TransientSendError, match="info query timed out"):
        await transport.send(text("3EB0000000000000001A", device, "a"))
    with pytest.raises(PermanentSendError, match="405"):
        await transport.send(text("3EB0000000000000001B", device, "b"))
    assert await transport.send(text("3EB0000000000000001C", device, "c"))


async def test_a_killed_session_is_restarted_and_sends_go_on(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, device, phone = paired
    assert await transport.send(text("3EB0000000000000002A", device, "before"))
    killed = phone.kill_session()

    async def restarted() -> bool:
        pids = phone.pids()
        return pids[-1] != killed and await device_state(store, device.id) == "connected"

    await eventually(restarted, what="a new session")
    assert await transport.send(text("3EB0000000000000002B", device, "after"))
    assert [record[2].conversation for record in phone.sent()] == ["before", "after"]


async def test_a_hung_session_is_killed_and_restarted(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, device, phone = paired
    phone.hang()
    hung = phone.pids()[-1]

    async def replaced() -> bool:
        return phone.pids()[-1] != hung and await device_state(store, device.id) == "connected"

    await eventually(replaced, within=15, what="the hung session to be replaced")
    with pytest.raises(ProcessLookupError):
        os.kill(hung, signal.SIGCONT)  # it was killed, not left stopped
    assert await transport.send(text("3EB0000000000000003A", device, "after"))
