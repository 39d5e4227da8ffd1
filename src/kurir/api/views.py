"""How stored messages are shown: one rendering for the API and the command line."""

from datetime import tzinfo

import msgspec

from kurir.api.types import ButtonReply, MessageContent, MessageData
from kurir.clock import to_datetime
from kurir.domain.broadcast import HELD_DUE_AT
from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import (
    Content,
    MediaMessage,
    TemplateMessage,
    TextMessage,
    TransportLimits,
    decode_content,
    kind_of,
)
from kurir.store.records import Device, MessageView
from kurir.transports.registry import transport_limits


def iso_time(ms: int, zone: tzinfo) -> str:
    """A stored time as ISO 8601 in the configured zone, with its offset."""
    return to_datetime(ms).astimezone(zone).isoformat(timespec="milliseconds")


def content_data(content: Content, limits: TransportLimits) -> MessageContent:
    """The content under the request's own field names, with how buttons are laid out."""
    match content:
        case TextMessage():
            return MessageContent(message=content.body)
        case MediaMessage():
            return MessageContent(
                url=content.url,
                type=content.media_type,
                caption=content.caption,
                filename=content.filename,
            )
        case ButtonMessage():
            return MessageContent(
                message_header=content.header,
                message=content.body,
                message_footer=content.footer,
                buttons=content.buttons,
                layout=content.layout(limits.buttons),
            )
        case TemplateMessage():
            return MessageContent(
                template=content.name,
                language=content.language,
                components=content.components or None,
            )


def device_state(device: Device, now: int) -> str:
    """``idle`` while no worker holds the device; else what its transport last reported."""
    if device.lease_until is None or device.lease_until <= now:
        return "idle"
    return device.state or "connected"


def message_data(view: MessageView, zone: tzinfo) -> MessageData:
    """A message and its life so far, as its owner sees it."""
    content = decode_content(view.content)
    reply = None
    if view.reply is not None:
        stored = msgspec.json.decode(view.reply)
        reply = ButtonReply(
            button=stored["button"], index=stored["index"], at=iso_time(stored["at"], zone)
        )
    reached = {
        "created": view.created_at,
        "sending": view.sending_at,
        "sent": view.sent_at,
        "delivered": view.delivered_at,
        "read": view.read_at,
        "failed": view.failed_at,
        "cancelled": view.cancelled_at,
    }
    return MessageData(
        message_id=view.message_id,
        device=view.device,
        from_=view.device_phone,
        to=view.recipient,
        type=kind_of(content),
        status=view.status,
        content=content_data(content, transport_limits(view.device_transport)),
        # A held message's due time is a placeholder past every real time, not a plan.
        scheduled_for=iso_time(view.due_at, zone) if view.due_at < HELD_DUE_AT else None,
        attempts=view.attempts,
        last_error=view.last_error,
        reply=reply,
        timestamps={name: iso_time(at, zone) for name, at in reached.items() if at is not None},
        broadcast=view.broadcast,
    )
