"""Messages recipients sent to a device: recorded once each, read back by their account.

A text that answers a button message (its label, or its number) is no message
of its own: it is recorded as that message's reply, as a press of the button
would be.
"""

import re
from collections.abc import Iterator

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.buttons import ButtonMessage, button_answered_by
from kurir.domain.content import decode_content
from kurir.domain.events import MessageReceivedEvent
from kurir.domain.ids import inbound_media_path, new_message_id
from kurir.store import contacts, lifecycle
from kurir.store.events import NewEvent, record_events
from kurir.store.queries import dialect_insert
from kurir.store.records import (
    ButtonPress,
    InboundFile,
    InboundMessage,
    InboundRecorded,
    InboundView,
    ReplyRecorded,
)
from kurir.store.tables import (
    IS_BUTTON_MESSAGE,
    devices,
    inbound_media,
    inbound_messages,
    messages,
)


def record_inbound(
    connection: Connection,
    *,
    account_id: int,
    device_id: int,
    message: InboundMessage,
    reply_window_ms: int,
    opt_out_words: frozenset[str] = contacts.DEFAULT_STOP_WORDS,
) -> ReplyRecorded | InboundRecorded | None:
    """Store ``message``, or record it as the button reply it is; None for a redelivery.

    A text that is a label or the number of a button of the latest button
    message sent to its sender from this device, within ``reply_window_ms``
    of its sending, is that button's press: recorded on the message, with
    its ``message.reply`` event. Anything else is an inbound message, with
    its ``message.received`` event; a text that is a stop word alone also
    opts its sender out of the account's broadcasts (`contacts.opt_out_if_stop`).
    """
    message = _storable(message)
    answered = _answered_button(connection, device_id, message, reply_window_ms)
    if answered is not None:
        message_id, index = answered
        press = ButtonPress(
            message_id=message_id,
            sender=message.sender,
            index=index,
            at=message.at,
            provider_message_id=message.provider_message_id,
        )
        return lifecycle.apply_button_press(connection, device_id=device_id, press=press)
    message_id = new_message_id()
    media_url = message.media_url
    if message.media is not None:
        media_url = inbound_media_path(message_id)
    insert = dialect_insert(connection, inbound_messages)
    stored = connection.execute(
        insert.values(
            message_id=message_id,
            account_id=account_id,
            device_id=device_id,
            sender=message.sender,
            sender_name=message.sender_name,
            type=message.type,
            text=message.text,
            media_url=media_url,
            provider_message_id=message.provider_message_id,
            quoted_message_id=message.quoted_message_id,
            received_at=message.at,
        )
        .on_conflict_do_nothing()
        .returning(inbound_messages.c.message_id)
    ).scalar()
    if stored is None:
        return None
    if message.media is not None:
        connection.execute(
            inbound_media.insert().values(
                message_id=stored,
                content_type=_served_type(message.media.content_type),
                filename=message.media.filename[:240] if message.media.filename else None,
                data=message.media.data,
            )
        )
    if message.type == "text":
        contacts.opt_out_if_stop(
            connection,
            account_id,
            message.sender,
            message.text,
            now=message.at,
            words=opt_out_words,
        )

    def received() -> Iterator[NewEvent]:
        device = connection.execute(
            sa.select(devices.c.public_id, devices.c.phone).where(devices.c.id == device_id)
        ).one()
        event = MessageReceivedEvent(
            device=device.public_id,
            message_id=stored,
            related_message_id=message.quoted_message_id,
            type=message.type,
            sender=message.sender,
            sender_name=message.sender_name or "",
            receiver=device.phone,
            message=message.text or "",
            media_url=media_url,
            author=None,
            at=message.at,
        )
        yield NewEvent(account_id, device_id, event)

    # Made only if an endpoint of the account may want it: the device is read then.
    record_events(connection, received(), account_ids=[account_id])
    return InboundRecorded(stored)


#: The latest button message a device sent a recipient since a time, read from
#: the head of its range in the index of sent button messages. Of two sent in
#: the same second (a receipt's time, in WhatsApp's whole seconds, can become
#: ``sent_at``) the one accepted later is the latest.
_LATEST_BUTTON_MESSAGE = (
    sa.select(messages.c.message_id, messages.c.content)
    .where(
        messages.c.device_id == sa.bindparam("device_id"),
        messages.c.recipient == sa.bindparam("recipient"),
        messages.c.sent_at.is_not(None),
        IS_BUTTON_MESSAGE,
        messages.c.sent_at >= sa.bindparam("since", type_=sa.BigInteger),
    )
    .order_by(messages.c.sent_at.desc(), messages.c.id.desc())
    .limit(1)
)


def _answered_button(
    connection: Connection, device_id: int, message: InboundMessage, window_ms: int
) -> tuple[str, int] | None:
    """``(message id, button position)`` when ``message`` is a text answering a button."""
    if message.type != "text" or not message.text or window_ms <= 0:
        return None
    latest = connection.execute(
        _LATEST_BUTTON_MESSAGE,
        {"device_id": device_id, "recipient": message.sender, "since": message.at - window_ms},
    ).first()
    if latest is None:
        return None
    content = decode_content(latest.content)
    if not isinstance(content, ButtonMessage):
        return None
    answered = button_answered_by(content.buttons, message.text)
    return None if answered is None else (latest.message_id, answered[0])


def list_inbound(
    connection: Connection,
    *,
    account_id: int,
    limit: int,
    before: int | None = None,
    device_id: int | None = None,
) -> list[InboundView]:
    """The account's inbound messages, newest first; ``before`` is the last page's cursor."""
    query = (
        sa.select(
            inbound_messages.c.id,
            inbound_messages.c.message_id,
            devices.c.public_id.label("device"),
            inbound_messages.c.sender,
            inbound_messages.c.sender_name,
            inbound_messages.c.type,
            inbound_messages.c.text,
            inbound_messages.c.media_url,
            inbound_messages.c.quoted_message_id,
            inbound_messages.c.received_at,
        )
        .join(devices, devices.c.id == inbound_messages.c.device_id)
        .where(inbound_messages.c.account_id == account_id)
        .order_by(inbound_messages.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(inbound_messages.c.id < before)
    if device_id is not None:
        query = query.where(inbound_messages.c.device_id == device_id)
    return [InboundView(**row._asdict()) for row in connection.execute(query)]


#: A content type as a header may carry it; a sender's app may give anything.
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*(;[ -~]*)?")


def _served_type(given: str) -> str:
    given = given.strip().lower()
    if len(given) <= 100 and _CONTENT_TYPE.fullmatch(given):
        return given
    return "application/octet-stream"


def inbound_file(connection: Connection, *, account_id: int, message_id: str) -> InboundFile | None:
    """The file kept for one of the account's inbound messages; None if it has none."""
    row = connection.execute(
        sa.select(inbound_media.c.content_type, inbound_media.c.filename, inbound_media.c.data)
        .join(inbound_messages, inbound_messages.c.message_id == inbound_media.c.message_id)
        .where(
            inbound_media.c.message_id == message_id,
            inbound_messages.c.account_id == account_id,
        )
    ).first()
    if row is None:
        return None
    return InboundFile(content_type=row.content_type, data=row.data, filename=row.filename)


def _storable(message: InboundMessage) -> InboundMessage:
    """``message`` with each NUL in its text fields made U+FFFD.

    PostgreSQL's text columns refuse NUL, and a sender may put one in a text
    or a name: refusing it would have the provider redeliver it forever.
    """
    changes: dict[str, object] = {
        name: value.replace("\x00", "\ufffd")
        for name in message.__struct_fields__
        if isinstance(value := getattr(message, name), str) and "\x00" in value
    }
    media = message.media
    if media is not None and media.filename is not None and "\x00" in media.filename:
        changes["media"] = msgspec.structs.replace(
            media, filename=media.filename.replace("\x00", "\ufffd")
        )
    return msgspec.structs.replace(message, **changes) if changes else message
