"""Events and their webhook bodies, in Alat WA's documented shape for its receivers.

Alat WA posts ``{"device": "<device id>", "data": {…}}``: for a status update
``data`` holds ``message_id``, ``status_code``, ``status`` and ``created``;
for an incoming message ``message_id``, ``related_message_id``, ``type``,
``sender_name``, ``sender``, ``receiver``, ``message``, ``media_url``,
``author`` and ``created``. Times are Unix seconds. Kurir keeps those names,
order and conventions (an absent related message is ``""``, an absent media
URL or author ``null``) and adds two things a receiver written for Alat WA
ignores: ``event``, saying which kind of body it is, and, on a button reply,
``button_index`` (counted from 1, as the API counts) and ``button_label``.

A reply answers a message Kurir sent, so its ``message_id`` is that message's
id, the one ``POST /send/button`` returned, as in a status update.

``status_code`` is WhatsApp's own message status, the number Alat WA passes
on (its documentation's example is ``4`` with ``"Read"``): 0 error, 1 pending,
2 server acknowledged (sent), 3 delivered, 4 read, 5 played. This is WhatsApp
Web's ``WebMessageInfo.Status``; whatsapp-web.js numbers its ``ack`` one lower
(read is 3 there), which is not what Alat WA sends. ``status`` is Kurir's
status capitalised, as Alat WA writes it ("Read").
"""

import enum
import os
import random
import secrets
import time
from typing import ClassVar

import msgspec

from kurir.domain.status import MessageStatus


class MessageStatusEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A message Kurir sent moved on: sent, delivered, read, or failed."""

    event: ClassVar[str] = "message.status"
    device: str
    message_id: str
    status: MessageStatus
    #: When it happened, ms since the epoch (UTC), as Kurir keeps times.
    at: int


class MessageReplyEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The recipient of a message Kurir sent pressed one of its buttons."""

    event: ClassVar[str] = "message.reply"
    device: str
    #: The message replied to.
    message_id: str
    sender: str
    button_index: int
    button_label: str
    text: str
    at: int


class MessageReceivedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A message arrived on a device."""

    event: ClassVar[str] = "message.received"
    device: str
    message_id: str
    #: The message this one quotes or answers, if any.
    related_message_id: str | None
    type: str
    sender: str
    sender_name: str
    receiver: str
    message: str
    media_url: str | None
    #: In a group, who wrote it (``sender`` is then the group).
    author: str | None
    at: int


class DeviceStateEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A device's connection to WhatsApp changed."""

    event: ClassVar[str] = "device.state"
    device: str
    state: str
    at: int


WebhookEvent = MessageStatusEvent | MessageReplyEvent | MessageReceivedEvent | DeviceStateEvent

#: Every event name, for endpoints choosing which they receive.
EVENTS = tuple(
    kind.event
    for kind in (MessageStatusEvent, MessageReplyEvent, MessageReceivedEvent, DeviceStateEvent)
)

#: WhatsApp's message status numbers (``WebMessageInfo.Status``) for Kurir's statuses.
#: Not yet sent is pending; cancelled never reached WhatsApp, which like failed is an error.
STATUS_CODES: dict[MessageStatus, int] = {
    MessageStatus.SCHEDULED: 1,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.FAILED: 0,
    MessageStatus.CANCELLED: 0,
}


class _StatusData(msgspec.Struct, frozen=True):
    message_id: str
    status_code: int
    status: str
    created: int


class _ReplyData(msgspec.Struct, frozen=True):
    message_id: str
    sender: str
    message: str
    button_index: int
    button_label: str
    created: int


class _ReceivedData(msgspec.Struct, frozen=True):
    message_id: str
    related_message_id: str
    type: str
    sender_name: str
    sender: str
    receiver: str
    message: str
    media_url: str | None
    author: str | None
    created: int


class _StateData(msgspec.Struct, frozen=True):
    state: str
    created: int


class _Body(msgspec.Struct, frozen=True):
    event: str
    device: str
    data: _StatusData | _ReplyData | _ReceivedData | _StateData


_ENCODER = msgspec.json.Encoder()


def payload(event: WebhookEvent) -> bytes:
    """The JSON body posted for ``event``: compact, UTF-8, signed and sent as it is."""
    return _ENCODER.encode(_Body(event=event.event, device=event.device, data=_data(event)))


def _data(event: WebhookEvent) -> _StatusData | _ReplyData | _ReceivedData | _StateData:
    created = event.at // 1000
    match event:
        case MessageStatusEvent():
            return _StatusData(
                event.message_id, STATUS_CODES[event.status], event.status.title(), created
            )
        case MessageReplyEvent():
            return _ReplyData(
                event.message_id,
                event.sender,
                event.text,
                event.button_index,
                event.button_label,
                created,
            )
        case MessageReceivedEvent():
            return _ReceivedData(
                event.message_id,
                event.related_message_id or "",
                event.type,
                event.sender_name,
                event.sender,
                event.receiver,
                event.message,
                event.media_url,
                event.author,
                created,
            )
        case DeviceStateEvent():
            return _StateData(event.state, created)


class DeliveryStatus(enum.StrEnum):
    """Where one webhook delivery (an event to one endpoint) is."""

    PENDING = "pending"  # due at ``due_at``: the first try, or the next after a failure
    DELIVERING = "delivering"  # claimed by a worker under a lease
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # a final answer, or the deadline passed; redelivered only by hand


def new_delivery_id() -> str:
    """A delivery's ``webhook-id``: the ``msg_`` form Standard Webhooks' examples use."""
    return new_delivery_ids(1)[0]


def new_delivery_ids(count: int) -> list[str]:
    """``count`` delivery ids at once (see `new_delivery_id`)."""
    return _time_first_ids("msg_", count)


def new_event_id() -> str:
    """An event's own id, made before it is stored."""
    return new_event_ids(1)[0]


def new_event_ids(count: int) -> list[str]:
    """``count`` event ids at once (see `new_event_id`)."""
    return _time_first_ids("evt_", count)


def _time_first_ids(prefix: str, count: int) -> list[str]:
    """``prefix``, the time in milliseconds (11 hex digits), then a 64-bit number.

    Time first, as message ids are (`kurir.domain.ids.new_message_id`): the
    ids of a batch land together at the end of their unique index, where
    random ids dirtied a page of it each, and every dirty page is written
    again at the commit. A sending worker writes several events a message.
    The numbers of a batch count on from a random start: two batches of one
    millisecond share an id only by chance, about ``count`` in 2^64.
    """
    head = f"{prefix}{time.time_ns() // 1_000_000:011x}"
    start = _random.getrandbits(64)
    return [f"{head}{(start + n) & _MASK_64:016x}" for n in range(count)]


_MASK_64 = (1 << 64) - 1
# Ids need to be unique, not secret: a generator seeded from the system's,
# anew in a forked child, costs no system call an id.
_random = random.Random(secrets.randbits(128))
os.register_at_fork(after_in_child=lambda: _random.seed(secrets.randbits(128)))


def new_endpoint_id() -> str:
    """An endpoint's public id."""
    return "wh_" + secrets.token_urlsafe(12)
