"""How stored messages are shown: one rendering for the API and the command line."""

from datetime import tzinfo

import msgspec

from kurir.api.types import ButtonReply, MessageContent, MessageData
from kurir.clock import to_datetime
from kurir.domain.buttons import ButtonLimits, ButtonMessage
from kurir.store.records import MessageView
from kurir.transports import transport_limits


def iso_time(ms: int, zone: tzinfo) -> str:
    """A stored time as ISO 8601 in the configured zone, with its offset."""
    return to_datetime(ms).astimezone(zone).isoformat(timespec="milliseconds")


def content_data(content: ButtonMessage, limits: ButtonLimits) -> MessageContent:
    """The content under the request's own field names, with how it is laid out."""
    return MessageContent(
        message_header=content.header,
        message=content.body,
        message_footer=content.footer,
        buttons=content.buttons,
        layout=content.layout(limits),
    )


def message_data(view: MessageView, zone: tzinfo) -> MessageData:
    """A message and its life so far, as its owner sees it."""
    content = msgspec.json.decode(view.content, type=ButtonMessage)
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
        status=view.status,
        content=content_data(content, transport_limits(view.device_transport)),
        scheduled_for=iso_time(view.due_at, zone),
        attempts=view.attempts,
        last_error=view.last_error,
        reply=reply,
        timestamps={name: iso_time(at, zone) for name, at in reached.items() if at is not None},
    )
