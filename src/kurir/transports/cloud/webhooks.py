"""Meta's webhook notifications, read into what Kurir reports: statuses, replies, messages.

A notification (``object: whatsapp_business_account``) holds entries of
changes; a ``messages`` change names the business number it is about
(``metadata.phone_number_id``) and carries ``statuses`` (what became of
messages the business sent) or ``contacts`` and ``messages`` (what users
wrote). Changes about another number are not this device's and are left
out, as are fields Kurir does not use. Nothing here touches the store: the
route resolves Meta's ids to Kurir's and reports through the device's sink.
"""

import time

import msgspec

from kurir.domain.ids import is_message_id
from kurir.domain.status import MessageStatus
from kurir.store.records import InboundMessage
from kurir.transports.cloud.errors import explain
from kurir.transports.cloud.payloads import read_reply_id

#: Meta's statuses Kurir reports; others (``deleted``, ``warning``) are left out.
_STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
}
#: The widths of the inbound table's columns.
_MAX_SENDER = 20
_MAX_TYPE = 16
_MAX_NAME = 100


class MalformedNotification(ValueError):
    """A signed body that is not a notification Kurir can read."""


# -- Meta's shapes, as far as Kurir reads them (unknown fields are ignored) ----


class _ErrorData(msgspec.Struct):
    details: str | None = None


class _Error(msgspec.Struct):
    code: int = 0
    title: str = ""
    message: str = ""
    error_data: _ErrorData | None = None


class _Status(msgspec.Struct):
    id: str
    status: str
    timestamp: str = ""
    biz_opaque_callback_data: str | None = None
    errors: list[_Error] = []


class _Context(msgspec.Struct):
    id: str | None = None


class _Choice(msgspec.Struct):
    id: str = ""
    title: str = ""


class _Interactive(msgspec.Struct):
    type: str = ""
    button_reply: _Choice | None = None
    list_reply: _Choice | None = None


class _Text(msgspec.Struct):
    body: str = ""


class _Media(msgspec.Struct):
    caption: str | None = None
    filename: str | None = None


class _TemplateButton(msgspec.Struct):
    text: str = ""


class _Reaction(msgspec.Struct):
    emoji: str | None = None


class _Location(msgspec.Struct):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None


class _Message(msgspec.Struct, rename={"sender": "from"}):
    sender: str
    id: str
    type: str = "unknown"
    timestamp: str = ""
    context: _Context | None = None
    text: _Text | None = None
    interactive: _Interactive | None = None
    button: _TemplateButton | None = None
    reaction: _Reaction | None = None
    location: _Location | None = None
    image: _Media | None = None
    video: _Media | None = None
    audio: _Media | None = None
    document: _Media | None = None
    sticker: _Media | None = None


class _Profile(msgspec.Struct):
    name: str | None = None


class _Contact(msgspec.Struct):
    wa_id: str = ""
    profile: _Profile | None = None


class _Metadata(msgspec.Struct):
    phone_number_id: str = ""


class _Value(msgspec.Struct):
    metadata: _Metadata | None = None
    statuses: list[_Status] = []
    messages: list[_Message] = []
    contacts: list[_Contact] = []


class _Change(msgspec.Struct):
    field: str = ""
    value: _Value | None = None


class _Entry(msgspec.Struct):
    changes: list[_Change] = []


class _Notification(msgspec.Struct):
    object: str = ""
    entry: list[_Entry] = []


_NOTIFICATION = msgspec.json.Decoder(_Notification)

# -- What the route reports ----------------------------------------------------


class StatusReport(msgspec.Struct, frozen=True):
    """Meta's word on a message the device sent."""

    wamid: str
    status: MessageStatus
    at: int
    #: Kurir's id, as the send put it in ``biz_opaque_callback_data``.
    message_id: str | None
    #: Why it failed, for a failed one.
    reason: str | None = None


class ReplyReport(msgspec.Struct, frozen=True):
    """A recipient pressed a button (or picked a list row) of a Kurir message."""

    message_id: str
    index: int
    sender: str
    at: int


class MessageReport(msgspec.Struct, frozen=True):
    """A message a user wrote; ``quoted_wamid`` is Meta's id of what it answers."""

    message: InboundMessage
    quoted_wamid: str | None


class Notification(msgspec.Struct, frozen=True):
    statuses: list[StatusReport]
    replies: list[ReplyReport]
    messages: list[MessageReport]
    #: Changes about other business numbers, left out.
    foreign: int


def read_notification(body: bytes, phone_number_id: str) -> Notification:
    """What a verified webhook body reports about the number ``phone_number_id``."""
    try:
        notification = _NOTIFICATION.decode(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise MalformedNotification(f"not a webhook notification: {error}") from None
    if notification.object != "whatsapp_business_account":
        raise MalformedNotification(f"not a WhatsApp notification: object {notification.object!r}")
    statuses: list[StatusReport] = []
    replies: list[ReplyReport] = []
    messages: list[MessageReport] = []
    foreign = 0
    for entry in notification.entry:
        for change in entry.changes:
            value = change.value
            if change.field != "messages" or value is None:
                continue
            if value.metadata is None or value.metadata.phone_number_id != phone_number_id:
                foreign += 1
                continue
            statuses.extend(filter(None, map(_status, value.statuses)))
            names = {c.wa_id: c.profile.name for c in value.contacts if c.profile is not None}
            for message in value.messages:
                if not message.sender.isdigit() or len(message.sender) > _MAX_SENDER:
                    continue  # a group or a malformed id: no sender Kurir can name
                reply = _reply(message)
                if reply is not None:
                    replies.append(reply)
                else:
                    messages.append(_inbound(message, names.get(message.sender)))
    return Notification(statuses, replies, messages, foreign)


def _at(timestamp: str) -> int:
    """Meta's Unix seconds as Kurir's milliseconds; now when it is missing."""
    return int(timestamp) * 1000 if timestamp.isdigit() else time.time_ns() // 1_000_000


def _status(item: _Status) -> StatusReport | None:
    status = _STATUSES.get(item.status)
    if status is None:
        return None
    callback = item.biz_opaque_callback_data
    reason = None
    if status == MessageStatus.FAILED:
        if item.errors:
            error = item.errors[0]
            details = error.error_data.details if error.error_data is not None else None
            reason = explain(error.code, error.title or error.message, details)
        else:
            reason = "WhatsApp reported the message failed, without saying why"
    return StatusReport(
        wamid=item.id,
        status=status,
        at=_at(item.timestamp),
        message_id=callback if callback is not None and is_message_id(callback) else None,
        reason=reason,
    )


def _reply(message: _Message) -> ReplyReport | None:
    """A press of one of Kurir's buttons: its reply id names the message and the button."""
    interactive = message.interactive
    if message.type != "interactive" or interactive is None:
        return None
    choice = interactive.button_reply or interactive.list_reply
    found = read_reply_id(choice.id) if choice is not None else None
    if found is None:
        return None
    message_id, index = found
    return ReplyReport(message_id, index, message.sender, _at(message.timestamp))


def _inbound(message: _Message, name: str | None) -> MessageReport:
    return MessageReport(
        InboundMessage(
            sender=message.sender,
            type=message.type[:_MAX_TYPE],
            at=_at(message.timestamp),
            text=_text_of(message),
            sender_name=name[:_MAX_NAME] if name else None,
            provider_message_id=message.id,
        ),
        message.context.id if message.context is not None else None,
    )


def _text_of(message: _Message) -> str | None:
    """What a message says in words: its text, caption, chosen label, emoji or place."""
    if message.text is not None:
        return message.text.body
    media = message.image or message.video or message.audio or message.document or message.sticker
    if media is not None:
        return media.caption or media.filename
    if message.interactive is not None:
        choice = message.interactive.button_reply or message.interactive.list_reply
        return choice.title if choice is not None else None
    if message.button is not None:
        return message.button.text
    if message.reaction is not None:
        return message.reaction.emoji
    if message.location is not None:
        place = message.location
        named = ", ".join(part for part in (place.name, place.address) if part)
        return named or f"{place.latitude},{place.longitude}"
    return None
