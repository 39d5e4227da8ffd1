"""Inbound files on WhatsApp Web: the session downloads them, Kurir keeps them, bounded.

Real session processes with the fake client, whose ``download_any`` serves
files the test hosts (by their SHA-256, as WhatsApp's media servers do by
their path), fails with neonize's own error, or never returns.
"""

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    DocumentMessage,
    FutureProofMessage,
    ImageMessage,
    Message,
    StickerMessage,
    VideoMessage,
)

from kurir.store import Store, inbound
from kurir.store.tables import inbound_messages
from kurir.transports import DeviceInfo
from kurir.transports.whatsapp_web import WhatsAppWebTransport, process, supervisor
from tests.integration.test_whatsapp_web_session import add_device, eventually, open_transport, pair
from tests.support.whatsapp_world import FakePhone, FakeWhatsApp

SENDER = "628111111111"
TIMEOUT_S = 3.0
PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 200


@pytest.fixture
def database_url(sqlite_database_url: str) -> str:
    """SQLite only: storing a file is checked on both databases in test_inbound_media_store."""
    return sqlite_database_url


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeWhatsApp:
    fake = FakeWhatsApp(tmp_path / "whatsapp", qr_seconds=0.4, qr_count=4)
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(process, "PING_EVERY_S", 0.3)
    # Small enough to overrun in a test; the session is told them in its Hello.
    monkeypatch.setattr(supervisor, "DOWNLOAD_TIMEOUT_S", TIMEOUT_S)
    limits = {**supervisor.INBOUND_MEDIA_LIMITS, "video": 1000}
    monkeypatch.setattr(supervisor, "INBOUND_MEDIA_LIMITS", limits)
    return fake


@pytest.fixture
async def paired(
    store: Store, world: FakeWhatsApp
) -> AsyncIterator[tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]]:
    device = await add_device(store, "wa-media")
    transport = await open_transport(store, device)
    phone = world.phone(device.public_id)
    try:
        await pair(store, device, phone)
        yield transport, device, phone
    finally:
        await transport.close()


async def received(store: Store, provider_id: str) -> Any:
    """The inbound row of a message WhatsApp knows by ``provider_id``, once it is recorded."""
    query = sa.select(inbound_messages).where(inbound_messages.c.provider_message_id == provider_id)

    async def row() -> Any:
        return await store.database.read(lambda connection: connection.execute(query).first())

    return await eventually(row, what=f"inbound message {provider_id}")


def common(phone: FakePhone, data: bytes, mimetype: str, *, length: int | None = None) -> Any:
    return {
        "fileSHA256": phone.host_file(data),
        "fileLength": len(data) if length is None else length,
        "mimetype": mimetype,
        "directPath": "/v/t62.7118-24/1",
        "mediaKey": b"k" * 32,
    }


async def test_each_kind_of_file_is_kept_and_named_by_its_media_url(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    _transport, device, phone = paired
    files = {
        "image": (b"image" + PNG, "image/png"),
        "video": (b"video" * 10, "video/mp4"),
        "audio": (b"audio" * 10, "audio/ogg; codecs=opus"),
        "document": (b"%PDF-1.4 invoice", "application/pdf"),
        "sticker": (b"RIFF....WEBPVP8 ", "image/webp"),
    }
    sent = {
        "image": Message(
            imageMessage=ImageMessage(caption="foto", **common(phone, *files["image"]))
        ),
        "video": Message(videoMessage=VideoMessage(**common(phone, *files["video"]))),
        "audio": Message(audioMessage=AudioMessage(PTT=True, **common(phone, *files["audio"]))),
        # A captioned document and a disappearing sticker come wrapped.
        "document": Message(
            documentWithCaptionMessage=FutureProofMessage(
                message=Message(
                    documentMessage=DocumentMessage(
                        fileName="invoice-42.pdf",
                        caption="tagihan",
                        **common(phone, *files["document"]),
                    )
                )
            )
        ),
        "sticker": Message(
            ephemeralMessage=FutureProofMessage(
                message=Message(stickerMessage=StickerMessage(**common(phone, *files["sticker"])))
            )
        ),
    }
    ids = {kind: phone.send_inbound(SENDER, content) for kind, content in sent.items()}
    for kind, provider_id in ids.items():
        row = await received(store, provider_id)
        assert row.type == kind
        assert row.media_url == f"/messages/inbound/{row.message_id}/media"
        kept = await store.read(
            inbound.inbound_file, account_id=device.account_id, message_id=row.message_id
        )
        assert kept is not None, kind
        assert (kept.data, kept.content_type) == files[kind], kind
        assert kept.filename == ("invoice-42.pdf" if kind == "document" else None)
        # Another account's key finds nothing.
        assert (
            await store.read(
                inbound.inbound_file, account_id=device.account_id + 1, message_id=row.message_id
            )
            is None
        )
    assert (await received(store, ids["image"])).text == "foto"
    assert (await received(store, ids["document"])).text == "tagihan"


async def test_a_file_too_large_missing_or_slow_is_reported_without_it_and_blocks_nothing(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    _transport, device, phone = paired
    slow = b"never arrives" * 10
    started = time.monotonic()
    hanging = phone.send_inbound(
        SENDER,
        Message(
            imageMessage=ImageMessage(
                caption="lambat",
                fileSHA256=phone.host_file(slow, hang=True),
                fileLength=len(slow),
                mimetype="image/jpeg",
            )
        ),
    )
    # Declared over the limit (1000 bytes for video here): never downloaded.
    too_large = phone.send_inbound(
        SENDER,
        Message(videoMessage=VideoMessage(**common(phone, b"v" * 10, "video/mp4", length=5000))),
    )
    # Declared small, but larger when it comes: dropped after the download.
    understated = phone.send_inbound(
        SENDER,
        Message(videoMessage=VideoMessage(**common(phone, b"v" * 2000, "video/mp4", length=10))),
    )
    gone = phone.send_inbound(
        SENDER,
        Message(
            imageMessage=ImageMessage(
                fileSHA256=hashlib.sha256(b"not hosted").digest(),
                fileLength=10,
                mimetype="image/png",
            )
        ),
    )
    text = phone.send_inbound(SENDER, Message(conversation="masih ada?"))
    # Messages after a hanging download go on at once.
    for provider_id in (too_large, understated, gone, text):
        row = await received(store, provider_id)
        assert row.media_url is None, provider_id
    assert time.monotonic() - started < TIMEOUT_S  # the text did not wait for the download
    row = await received(store, hanging)
    assert time.monotonic() - started >= TIMEOUT_S  # reported when its download timed out
    assert (row.type, row.text, row.media_url) == ("image", "lambat", None)
    assert (
        await store.read(
            inbound.inbound_file, account_id=device.account_id, message_id=row.message_id
        )
        is None
    )


async def test_a_message_whose_file_is_still_coming_when_the_session_stops_is_not_lost(
    store: Store, paired: tuple[WhatsAppWebTransport, DeviceInfo, FakePhone]
) -> None:
    transport, _device, phone = paired
    slow = b"still coming" * 10
    provider_id = phone.send_inbound(
        SENDER,
        Message(
            documentMessage=DocumentMessage(
                caption="kontrak",
                fileSHA256=phone.host_file(slow, hang=True),
                fileLength=len(slow),
                mimetype="application/pdf",
            )
        ),
    )

    async def heard() -> bool:
        return phone.heard()

    await eventually(heard, what="the fake to hand on the message")
    started = time.monotonic()
    await transport.close()  # the worker lets go of the device: the session stops
    assert time.monotonic() - started < TIMEOUT_S  # not waiting for the download
    row = await received(store, provider_id)
    assert (row.type, row.text, row.media_url) == ("document", "kontrak", None)
