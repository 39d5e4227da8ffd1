"""Webhook bodies, byte for byte: Alat WA's documented shape with Kurir's additions."""

import pytest

from kurir.domain.events import (
    EVENTS,
    STATUS_CODES,
    DeviceStateEvent,
    MessageReceivedEvent,
    MessageReplyEvent,
    MessageStatusEvent,
    WebhookEvent,
    payload,
)
from kurir.domain.status import MessageStatus

AT = 1734657859_123  # ms; ``created`` is Unix seconds


@pytest.mark.parametrize(
    ("event", "body"),
    [
        (
            MessageStatusEvent(
                device="888111222133155555", message_id="3EB0018F2A6B1C00D2F1",
                status=MessageStatus.READ, at=AT,
            ),
            b'{"event":"message.status","device":"888111222133155555","data":'
            b'{"message_id":"3EB0018F2A6B1C00D2F1","status_code":4,"status":"Read",'
            b'"created":1734657859}}',
        ),
        (
            MessageReplyEvent(
                device="888111222133155555", message_id="3EB0018F2A6B1C00D2F1",
                sender="628123123123", button_index=2, button_label="Opsi 2",
                text="Opsi 2", at=AT,
            ),
            b'{"event":"message.reply","device":"888111222133155555","data":'
            b'{"message_id":"3EB0018F2A6B1C00D2F1","sender":"628123123123","message":"Opsi 2",'
            b'"button_index":2,"button_label":"Opsi 2","created":1734657859}}',
        ),
        (
            MessageReceivedEvent(
                device="888111222133155555", message_id="3FC022B1851111839",
                related_message_id=None, type="text", sender="628123123123",
                sender_name="John", receiver="6289669342954", message="tes message",
                media_url=None, author=None, at=1734656438_000,
            ),
            # Alat WA's own example, with "event" added.
            b'{"event":"message.received","device":"888111222133155555","data":'
            b'{"message_id":"3FC022B1851111839","related_message_id":"","type":"text",'
            b'"sender_name":"John","sender":"628123123123","receiver":"6289669342954",'
            b'"message":"tes message","media_url":null,"author":null,"created":1734656438}}',
        ),
        (
            MessageReceivedEvent(
                device="888111222133155555", message_id="3FC022B18511112222",
                related_message_id="3EB0018F2A6B1C00D2F1", type="image",
                sender="120363045611111111", sender_name="Budi", receiver="6289669342954",
                message="foto", media_url="https://media.example/a.jpg",
                author="628123123123", at=1734656438_999,
            ),
            b'{"event":"message.received","device":"888111222133155555","data":'
            b'{"message_id":"3FC022B18511112222","related_message_id":"3EB0018F2A6B1C00D2F1",'
            b'"type":"image","sender_name":"Budi","sender":"120363045611111111",'
            b'"receiver":"6289669342954","message":"foto",'
            b'"media_url":"https://media.example/a.jpg","author":"628123123123",'
            b'"created":1734656438}}',
        ),
        (
            DeviceStateEvent(device="888111222133155555", state="disconnected", at=AT),
            b'{"event":"device.state","device":"888111222133155555","data":'
            b'{"state":"disconnected","created":1734657859}}',
        ),
    ],
)  # fmt: skip
def test_each_event_has_its_exact_body(event: WebhookEvent, body: bytes) -> None:
    assert payload(event) == body


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (MessageStatus.SENT, 2, "Sent"),
        (MessageStatus.DELIVERED, 3, "Delivered"),
        (MessageStatus.READ, 4, "Read"),  # Alat WA's documented example
        (MessageStatus.FAILED, 0, "Failed"),
        (MessageStatus.CANCELLED, 0, "Cancelled"),
        (MessageStatus.QUEUED, 1, "Queued"),
        (MessageStatus.SCHEDULED, 1, "Scheduled"),
        (MessageStatus.SENDING, 1, "Sending"),
    ],
)
def test_status_codes_are_whatsapp_s_message_status_numbers(
    status: MessageStatus, code: int, text: str
) -> None:
    body = payload(MessageStatusEvent(device="d", message_id="m", status=status, at=AT))
    assert f'"status_code":{code},"status":"{text}"'.encode() in body


def test_every_status_has_a_code() -> None:
    assert set(STATUS_CODES) == set(MessageStatus)


def test_text_is_utf_8_as_it_is_and_escaped_only_where_json_must() -> None:
    event = MessageReceivedEvent(
        device="d", message_id="m", related_message_id=None, type="text",
        sender="628123123123", sender_name='Siti "Ibu" 👩', receiver="6289669342954",
        message="Halo\nterima kasih 🙏", media_url=None, author=None, at=AT,
    )  # fmt: skip
    body = payload(event)
    assert '"sender_name":"Siti \\"Ibu\\" 👩"'.encode() in body
    assert '"message":"Halo\\nterima kasih 🙏"'.encode() in body


def test_the_event_names() -> None:
    assert EVENTS == ("message.status", "message.reply", "message.received", "device.state")
