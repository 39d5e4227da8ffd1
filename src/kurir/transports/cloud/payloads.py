"""What a Kurir message becomes on the Cloud API: one ``POST /{phone_number_id}/messages`` body.

The shapes are Meta's documented examples (its OpenAPI description's
``InteractiveMessage`` schema cannot be satisfied by any payload, so the
examples are what counts). Every message carries Kurir's id as
``biz_opaque_callback_data``, which Meta hands back in every status webhook,
so a status finds its message even before the worker has recorded Meta's id.

A button's reply id is ``<message id>:<position>``: stable across resends,
and a reply names the message and the button without any lookup.
"""

import re
from typing import Any

from kurir.domain.buttons import ButtonLayout, ButtonMessage
from kurir.domain.content import (
    WHATSAPP_LIMITS,
    MediaMessage,
    MediaType,
    TemplateMessage,
    TextMessage,
)
from kurir.domain.ids import is_message_id
from kurir.transports.base import OutboundMessage, PermanentSendError

#: A link WhatsApp can preview: the first one in a text gets a preview card.
_LINK = re.compile(r"https?://\S", re.IGNORECASE)


def reply_id(message_id: str, index: int) -> str:
    """The id of button ``index`` (from 1) of ``message_id``, as a reply names it."""
    return f"{message_id}:{index}"


def read_reply_id(value: str) -> tuple[str, int] | None:
    """``(message_id, index)`` from a reply id Kurir gave; None for any other id."""
    message_id, _, index = value.partition(":")
    if not is_message_id(message_id) or not index.isdigit() or len(index) > 2:
        return None
    position = int(index)
    return (message_id, position) if 1 <= position <= WHATSAPP_LIMITS.buttons.max_buttons else None


def message_payload(message: OutboundMessage, *, list_button_label: str) -> dict[str, Any]:
    """The JSON body that sends ``message``."""
    content = message.content
    body: dict[str, Any]
    match content:
        case TextMessage():
            text: dict[str, Any] = {"body": content.body}
            if _LINK.search(content.body):
                text["preview_url"] = True
            body = {"type": "text", "text": text}
        case MediaMessage():
            body = _media(message, content)
        case ButtonMessage():
            body = {"type": "interactive", "interactive": _interactive(message, list_button_label)}
        case TemplateMessage():
            template: dict[str, Any] = {
                "name": content.name,
                "language": {"code": content.language},
            }
            if content.components:
                template["components"] = list(content.components)
            body = {"type": "template", "template": template}
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.recipient,
        **body,
        "biz_opaque_callback_data": message.message_id,
    }


def _media(message: OutboundMessage, content: MediaMessage) -> dict[str, Any]:
    """Meta fetches the file itself from the URL the worker fetched it from (after redirects)."""
    fetched = message.media
    media_type = fetched.media_type if fetched is not None else content.media_type
    if media_type is None:  # the worker fetches every file first; this is a bug's guard
        raise PermanentSendError("media: the file's type is not known")
    media: dict[str, Any] = {"link": fetched.url if fetched is not None else content.url}
    if content.caption is not None and media_type != MediaType.AUDIO:
        media["caption"] = content.caption
    if content.filename is not None and media_type == MediaType.DOCUMENT:
        media["filename"] = content.filename
    return {"type": str(media_type), str(media_type): media}


def _interactive(message: OutboundMessage, list_button_label: str) -> dict[str, Any]:
    content = message.content
    assert isinstance(content, ButtonMessage)
    choices = [
        {"id": reply_id(message.message_id, index), "title": label}
        for index, label in enumerate(content.buttons, start=1)
    ]
    parts: dict[str, Any] = {
        "header": {"type": "text", "text": content.header},
        "body": {"text": content.body},
        "footer": {"text": content.footer},
    }
    if content.layout(WHATSAPP_LIMITS.buttons) == ButtonLayout.REPLY_BUTTONS:
        buttons = [{"type": "reply", "reply": choice} for choice in choices]
        return {"type": "button", **parts, "action": {"buttons": buttons}}
    # One section needs no title; row titles may be 24 long, labels are at most 20.
    action = {"button": list_button_label, "sections": [{"rows": choices}]}
    return {"type": "list", **parts, "action": action}
