"""What recipients send becomes ``message.reply`` or ``message.received``, in the same transaction.

A pressed button, or a text that is a label or number of the latest button
message sent to that recipient within the reply window, is a reply to that
message; anything else is an inbound message. Through the device's event
sink, the path every transport and the sandbox take.
"""

from typing import Any

import pytest

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import encode_content
from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting, inbound, lifecycle
from kurir.store.device_events import DeviceEvents
from kurir.store.records import (
    ButtonPress,
    ClaimedMessage,
    InboundFile,
    InboundMessage,
    InboundRecorded,
    ReplyRecorded,
    SendOutcome,
)
from kurir.store.tables import inbound_messages
from tests.support.event_rows import add_endpoint, last_event_id, public_id, written_events
from tests.support.store_data import T0, add_account, hold_devices, message_rows, new_message

SECOND = 1000
WINDOW_MS = 3_600_000
SENT_AT = T0 + SECOND
RECIPIENT = "628111111111"  # what `new_message` sends to
DEVICE_PHONE = "628122222222"  # what `add_account` gives its devices
LABELS = ("Ya", "Tidak", "Nanti Saja")


def buttons(*labels: str) -> str:
    return encode_content(ButtonMessage(header="", body="Datang?", footer="", buttons=labels))


async def sent_button_message(
    store: Store, account: int, device: int, labels: tuple[str, ...] = LABELS, at: int = SENT_AT
) -> str:
    """A button message the device sent to `RECIPIENT` at ``at``; its id."""
    message = new_message(account, device, content=buttons(*labels))
    await store.write(accepting.insert_messages, [message])
    await hold_devices(store, "w1", [device], until=at + 60_000)
    claimed: list[ClaimedMessage] = await store.write(
        lifecycle.claim_due_messages,
        worker="w1",
        device_limits={device: 1},
        now=at,
        lease_ms=60_000,
    )
    assert [c.message_id for c in claimed] == [message.message_id]
    sent = SendOutcome(claimed[0].id, device, "w1", MessageStatus.SENT, at)
    await store.write(lifecycle.record_outcomes, [sent])
    return message.message_id


async def inbound_rows(store: Store) -> list[Any]:
    query = inbound_messages.select().order_by(inbound_messages.c.id)
    return await store.database.read(lambda connection: list(connection.execute(query).all()))


def sink(store: Store, account: int, device: int, window_ms: int = WINDOW_MS) -> DeviceEvents:
    return DeviceEvents(store, device_id=device, account_id=account, reply_window_ms=window_ms)


def text(body: str, at: int = SENT_AT + SECOND, **more: Any) -> InboundMessage:
    return InboundMessage(sender=RECIPIENT, type="text", at=at, text=body, **more)


async def test_a_pressed_button_is_the_message_s_reply_and_reads_it(store: Store) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    message_id = await sent_button_message(store, account, device)
    start = await last_event_id(store)
    events = sink(store, account, device)

    press = ButtonPress(message_id=message_id, sender=RECIPIENT, index=2, at=T0 + 5 * SECOND)
    await events.button_press(press)
    again = ButtonPress(message_id=message_id, sender=RECIPIENT, index=3, at=T0 + 7 * SECOND)
    await events.button_press(again)
    # Not a button of the message: nothing is recorded.
    await events.button_press(ButtonPress(message_id, RECIPIENT, index=4, at=T0 + 8 * SECOND))

    device_id = await public_id(store, device)
    created = T0 // 1000
    assert [(w.type, w.body) for w in await written_events(store, start)] == [
        (
            "message.status",
            {
                "event": "message.status",
                "device": device_id,
                "data": {
                    "message_id": message_id,
                    "status_code": 4,
                    "status": "Read",
                    "created": created + 5,
                },
            },
        ),
        *(
            (
                "message.reply",
                {
                    "event": "message.reply",
                    "device": device_id,
                    "data": {
                        "message_id": message_id,
                        "sender": RECIPIENT,
                        "message": label,
                        "button_index": index,
                        "button_label": label,
                        "created": created + seconds,
                    },
                },
            )
            for index, label, seconds in [(2, "Tidak", 5), (3, "Nanti Saja", 7)]
        ),
    ]
    (row,) = await message_rows(store)
    assert (row.status, row.read_at) == (MessageStatus.READ, T0 + 5 * SECOND)
    assert row.reply == f'{{"button":"Nanti Saja","index":3,"at":{T0 + 7 * SECOND}}}'


@pytest.mark.parametrize(
    ("written", "index", "label"),
    [
        ("Tidak", 2, "Tidak"),
        ("  nanti SAJA ", 3, "Nanti Saja"),
        ("1", 1, "Ya"),
        (" 3 ", 3, "Nanti Saja"),
    ],
)
async def test_a_text_that_is_a_label_or_a_number_is_a_reply(
    store: Store, written: str, index: int, label: str
) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    message_id = await sent_button_message(store, account, device)
    start = await last_event_id(store)
    # The window's last moment still counts.
    at = SENT_AT + WINDOW_MS
    became = await sink(store, account, device).record_inbound(text(written, at=at))

    assert became == ReplyRecorded(message_id, index, label)
    events = await written_events(store, start)
    assert [w.type for w in events] == ["message.status", "message.reply"]
    assert events[1].body["data"] == {
        "message_id": message_id,
        "sender": RECIPIENT,
        "message": label,
        "button_index": index,
        "button_label": label,
        "created": at // 1000,
    }
    (row,) = await message_rows(store)
    assert (row.status, row.reply) == (
        MessageStatus.READ,
        f'{{"button":"{label}","index":{index},"at":{at}}}',
    )
    assert await inbound_rows(store) == []


def received_body(device: str, message_id: str, **data: object) -> dict[str, object]:
    """A ``message.received`` body: a text from `RECIPIENT` unless ``data`` says otherwise."""
    return {
        "event": "message.received",
        "device": device,
        "data": {
            "message_id": message_id,
            "related_message_id": "",
            "type": "text",
            "sender_name": "",
            "sender": RECIPIENT,
            "receiver": DEVICE_PHONE,
            "message": "",
            "media_url": None,
            "author": None,
            **data,
        },
    }


async def test_anything_else_is_an_inbound_message(store: Store) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    quoted = await sent_button_message(store, account, device)
    start = await last_event_id(store)
    events = sink(store, account, device)
    at = SENT_AT + 2 * SECOND
    arrived = [
        # Not a choice, a choice the message does not offer, a number not in ASCII.
        text("Ya, besok saya datang", at=at, sender_name="Budi", quoted_message_id=quoted),
        text("4", at=at),
        text("\uff12", at=at),
        # Not a text: a caption that looks like a choice is still a caption.
        InboundMessage(
            sender=RECIPIENT,
            type="image",
            at=at,
            text="2",
            media_url="https://media.example/a.jpg",
        ),
        # Past the window.
        text("Tidak", at=SENT_AT + WINDOW_MS + 1),
    ]
    answers = [await events.record_inbound(message) for message in arrived]
    assert all(isinstance(answer, InboundRecorded) for answer in answers)
    ids = [answer.message_id for answer in answers if isinstance(answer, InboundRecorded)]
    assert [row.message_id for row in await inbound_rows(store)] == ids

    device_id = await public_id(store, device)
    created = at // 1000
    assert [(w.type, w.body) for w in await written_events(store, start)] == [
        (
            "message.received",
            received_body(
                device_id,
                ids[0],
                related_message_id=quoted,
                sender_name="Budi",
                message="Ya, besok saya datang",
                created=created,
            ),
        ),
        ("message.received", received_body(device_id, ids[1], message="4", created=created)),
        ("message.received", received_body(device_id, ids[2], message="\uff12", created=created)),
        (
            "message.received",
            received_body(
                device_id,
                ids[3],
                type="image",
                message="2",
                media_url="https://media.example/a.jpg",
                created=created,
            ),
        ),
        (
            "message.received",
            received_body(
                device_id, ids[4], message="Tidak", created=(SENT_AT + WINDOW_MS + 1) // 1000
            ),
        ),
    ]
    (row,) = await message_rows(store)
    assert (row.status, row.reply) == (MessageStatus.SENT, None)


async def test_only_the_latest_sent_button_message_is_answered(store: Store) -> None:
    account, (device, other_device) = await add_account(store, devices=2)
    await add_endpoint(store, account)
    await sent_button_message(store, account, device, ("Ya", "Tidak"), at=SENT_AT)
    latest = await sent_button_message(store, account, device, ("Besok", "Lusa"), at=SENT_AT + 1)
    # A button message not sent yet, and one sent from another device, are not answered.
    waiting = new_message(account, device, content=buttons("Ya", "Tidak"))
    await store.write(accepting.insert_messages, [waiting])
    await sent_button_message(store, account, other_device, ("Ya", "Tidak"))
    events = sink(store, account, device)
    at = SENT_AT + 2 * SECOND

    assert isinstance(await events.record_inbound(text("Ya", at=at)), InboundRecorded)
    assert await events.record_inbound(text("lusa", at=at)) == ReplyRecorded(latest, 2, "Lusa")
    # Someone else writing the same is not answering what was sent to RECIPIENT.
    stranger = InboundMessage(sender="628133333333", type="text", at=at, text="Lusa")
    assert isinstance(await events.record_inbound(stranger), InboundRecorded)


async def test_a_window_of_zero_turns_text_replies_off(store: Store) -> None:
    account, (device,) = await add_account(store)
    await sent_button_message(store, account, device)
    events = sink(store, account, device, window_ms=0)
    assert isinstance(await events.record_inbound(text("Ya", at=SENT_AT)), InboundRecorded)


async def test_a_provider_s_redelivery_is_recorded_and_told_once(store: Store) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    message_id = await sent_button_message(store, account, device)
    start = await last_event_id(store)
    events = sink(store, account, device)
    inbound = text("Kapan?", provider_message_id="wamid.1")
    reply = text("Ya", provider_message_id="wamid.2")

    first = await events.record_inbound(inbound)
    assert isinstance(first, InboundRecorded)
    assert await events.record_inbound(reply) == ReplyRecorded(message_id, 1, "Ya")
    assert await events.record_inbound(inbound) is None
    assert await events.record_inbound(reply) is None

    written = await written_events(store, start)
    assert [w.type for w in written] == ["message.received", "message.status", "message.reply"]
    assert len(await inbound_rows(store)) == 1
    (row,) = await message_rows(store)
    assert (
        row.reply
        == f'{{"button":"Ya","index":1,"at":{SENT_AT + SECOND},"provider_message_id":"wamid.2"}}'
    )


async def test_without_an_endpoint_replies_are_recorded_and_no_event_written(
    store: Store,
) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account, kinds=["device.state"])
    message_id = await sent_button_message(store, account, device)
    events = sink(store, account, device)
    assert await events.record_inbound(text("Tidak")) == ReplyRecorded(message_id, 2, "Tidak")
    assert isinstance(await events.record_inbound(text("Terima kasih")), InboundRecorded)
    assert await written_events(store) == []


async def test_an_inbound_file_is_kept_with_its_message_and_named_by_kurirs_media_url(
    store: Store,
) -> None:
    account, (device,) = await add_account(store)
    await add_endpoint(store, account)
    start = await last_event_id(store)
    events = sink(store, account, device)
    at = SENT_AT + SECOND
    photo = InboundMessage(
        sender=RECIPIENT,
        type="document",
        at=at,
        text="tagihan",
        provider_message_id="3A0001",
        media=InboundFile(content_type="application/pdf", data=b"%PDF-1.4", filename="a.pdf"),
    )
    first = await events.record_inbound(photo)
    assert isinstance(first, InboundRecorded)
    # WhatsApp delivering it again stores nothing twice.
    assert await events.record_inbound(photo) is None
    # A content type a header cannot carry is served as bytes of no stated type.
    odd = InboundMessage(
        sender=RECIPIENT,
        type="image",
        at=at,
        media=InboundFile(content_type="image/png\r\nSet-Cookie: x=1", data=b"\x89PNG"),
    )
    second = await events.record_inbound(odd)
    assert isinstance(second, InboundRecorded)

    path = f"/messages/inbound/{first.message_id}/media"
    assert [row.media_url for row in await inbound_rows(store)] == [
        path,
        f"/messages/inbound/{second.message_id}/media",
    ]
    kept = await store.read(inbound.inbound_file, account_id=account, message_id=first.message_id)
    assert kept == InboundFile(content_type="application/pdf", data=b"%PDF-1.4", filename="a.pdf")
    odd_kept = await store.read(
        inbound.inbound_file, account_id=account, message_id=second.message_id
    )
    assert odd_kept is not None
    assert odd_kept.content_type == "application/octet-stream"
    assert (
        await store.read(inbound.inbound_file, account_id=account + 1, message_id=first.message_id)
        is None
    )
    written = await written_events(store, start)
    assert written[0].body == received_body(
        await public_id(store, device),
        first.message_id,
        type="document",
        message="tagihan",
        media_url=path,
        created=at // 1000,
    )


async def test_a_nul_in_what_a_sender_wrote_is_stored_as_a_replacement_character(
    store: Store,
) -> None:
    # PostgreSQL's text refuses NUL: refusing the message would have the
    # provider deliver it again and again.
    account, (device,) = await add_account(store)
    events = sink(store, account, device)
    document = InboundMessage(
        sender=RECIPIENT,
        type="document",
        at=SENT_AT,
        text="a\x00b",
        sender_name="Bu\x00di",
        media=InboundFile(content_type="application/pdf", data=b"%PDF", filename="x\x00.pdf"),
    )
    recorded = await events.record_inbound(document)
    assert isinstance(recorded, InboundRecorded)
    (row,) = await inbound_rows(store)
    assert (row.text, row.sender_name) == ("a\ufffdb", "Bu\ufffddi")
    kept = await store.read(inbound.inbound_file, account_id=account, message_id=row.message_id)
    assert kept is not None
    assert kept.filename == "x\ufffd.pdf"
