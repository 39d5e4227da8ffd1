"""WhatsApp's protobufs, as the session builds and reads them with neonize's classes.

Imported only by the session process (and its tests): building a message,
naming a JID and turning an event into a frame of the worker protocol are
pure functions here, so each is checked offline against neonize's own
protobuf classes.
"""

import dataclasses
import io
import json
import time
from typing import Any

from neonize.proto.Neonize_pb2 import JID, Receipt
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    DocumentMessage,
    ImageMessage,
    InteractiveMessage,
    Message,
    VideoMessage,
)
from neonize.utils.enum import MediaType

from kurir.transports.whatsapp_web.protocol import ButtonSeen, InboundSeen, ReceiptSeen

USER_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"

#: neonize's upload kinds by Kurir's media type (they pick the encryption keys).
UPLOAD_KINDS = {
    "image": MediaType.MediaImage,
    "video": MediaType.MediaVideo,
    "audio": MediaType.MediaAudio,
    "document": MediaType.MediaDocument,
}

#: Native flow shows this many quick replies; more go in a single-select list.
MAX_QUICK_REPLIES = 3


# -- JIDs ----------------------------------------------------------------------


def user_jid(phone: str) -> Any:
    """The JID of a phone number's account (digits with country code)."""
    return JID(User=phone, RawAgent=0, Device=0, Integrator=0, Server=USER_SERVER, IsEmpty=False)


def parse_jid(text: str) -> Any:
    """``user[.agent][:device]@server`` (as `jid_text` writes it) as neonize's JID."""
    user, _, server = text.partition("@")
    device = 0
    if ":" in user:
        user, _, device_text = user.partition(":")
        device = int(device_text)
    agent = 0
    if "." in user:
        user, _, agent_text = user.partition(".")
        agent = int(agent_text)
    return JID(User=user, RawAgent=agent, Device=device, Integrator=0, Server=server, IsEmpty=False)


def jid_text(jid: Any) -> str:
    agent = f".{jid.RawAgent}" if jid.RawAgent else ""
    device = f":{jid.Device}" if jid.Device else ""
    return f"{jid.User}{agent}{device}@{jid.Server}"


# -- outgoing ------------------------------------------------------------------


def text_message(text: str) -> Any:
    # A plain conversation: no mention parsing and no link preview fetched.
    return Message(conversation=text)


def media_message(
    *,
    media_type: str,
    content_type: str,
    upload: Any,
    caption: str | None,
    filename: str | None,
    thumbnail: bytes | None = None,
) -> Any:
    """A media message for a file already uploaded (``upload``: neonize's UploadResponse)."""
    common: dict[str, Any] = {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mimetype": content_type,
        "mediaKeyTimestamp": int(time.time()),
    }
    if media_type == "image":
        return Message(
            imageMessage=ImageMessage(**common, caption=caption, JPEGThumbnail=thumbnail)
        )
    if media_type == "video":
        return Message(
            videoMessage=VideoMessage(**common, caption=caption, JPEGThumbnail=thumbnail)
        )
    if media_type == "audio":
        return Message(audioMessage=AudioMessage(**common))
    return Message(
        documentMessage=DocumentMessage(
            **common, caption=caption, fileName=filename, title=filename
        )
    )


def image_thumbnail(data: bytes) -> bytes | None:
    """A small JPEG preview, shown before the download; None for what Pillow cannot read."""
    from PIL import Image  # neonize's own dependency

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((72, 72))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=60)
            return out.getvalue()
    except (OSError, ValueError):  # not an image Pillow reads: sent without a preview
        return None


def native_buttons(*, header: str, body: str, footer: str, labels: tuple[str, ...]) -> Any:
    """Native-flow buttons (never the legacy ButtonsMessage, which WhatsApp refuses with 405).

    Each button's id is its position from 1, which its reply carries back.
    """
    flow = InteractiveMessage.NativeFlowMessage
    if len(labels) <= MAX_QUICK_REPLIES:
        buttons = [
            flow.NativeFlowButton(
                name="quick_reply",
                buttonParamsJSON=json.dumps({"display_text": label, "id": str(number)}),
            )
            for number, label in enumerate(labels, 1)
        ]
    else:
        rows = [
            {"header": "", "title": label, "description": "", "id": str(number)}
            for number, label in enumerate(labels, 1)
        ]
        params = {"title": header, "sections": [{"title": header, "rows": rows}]}
        buttons = [flow.NativeFlowButton(name="single_select", buttonParamsJSON=json.dumps(params))]
    return Message(
        interactiveMessage=InteractiveMessage(
            header=InteractiveMessage.Header(title=header, hasMediaAttachment=False),
            body=InteractiveMessage.Body(text=body),
            footer=InteractiveMessage.Footer(text=footer),
            nativeFlowMessage=flow(buttons=buttons, messageVersion=1),
        )
    )


# -- incoming ------------------------------------------------------------------

_MEDIA_KINDS = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("stickerMessage", "sticker"),
    ("locationMessage", "location"),
    ("liveLocationMessage", "location"),
    ("contactMessage", "contact"),
    ("contactsArrayMessage", "contact"),
)

_WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
)


def _has(message: Any, field: str) -> bool:
    return bool(message.HasField(field))


def unwrap(message: Any) -> Any:
    """The message inside ephemeral, view-once and captioned-document wrappers."""
    for _ in range(4):  # wrappers nest at most a few deep
        for wrapper in _WRAPPERS:
            if _has(message, wrapper) and _has(getattr(message, wrapper), "message"):
                message = getattr(message, wrapper).message
                break
        else:
            return message
    return message


def sender_phone(source: Any) -> str | None:
    """The sender's phone number, from its JID or, for a LID sender, the alternative JID."""
    for jid in (source.Sender, source.SenderAlt):
        if jid.Server == USER_SERVER and jid.User.isdigit():
            return str(jid.User)
    return None


def read_message(event: Any, sender: str) -> InboundSeen | ButtonSeen | None:
    """A neonize ``Message`` event as the worker hears of it; None for what Kurir keeps not.

    Button replies of every kind (native flow, list, legacy buttons,
    template) are traced to the message they answer through
    ``contextInfo.stanzaID``; everything else is inbound, quoting what it quotes.
    """
    info = event.Info
    at = int(info.Timestamp) or int(time.time() * 1000)
    common = {"provider_id": info.ID, "sender": sender, "at": at}
    name = info.Pushname or None
    message = unwrap(event.Message)
    reply = _button_reply(message)
    if reply is not None:
        quoted, button_id, label = reply
        if quoted:
            return ButtonSeen(
                **common, quoted=quoted, button_id=button_id, label=label, sender_name=name
            )
        return InboundSeen(**common, type="text", text=label, sender_name=name)
    if _has(message, "extendedTextMessage"):
        extended = message.extendedTextMessage
        quoted_id = extended.contextInfo.stanzaID if _has(extended, "contextInfo") else ""
        return InboundSeen(
            **common, type="text", text=extended.text, sender_name=name, quoted=quoted_id or None
        )
    if message.conversation:
        return InboundSeen(**common, type="text", text=message.conversation, sender_name=name)
    for field, kind in _MEDIA_KINDS:
        if _has(message, field):
            part = getattr(message, field)
            caption = getattr(part, "caption", "") or None
            quoted_id = part.contextInfo.stanzaID if _has(part, "contextInfo") else ""
            return InboundSeen(
                **common, type=kind, text=caption, sender_name=name, quoted=quoted_id or None
            )
    return None  # reactions, protocol messages, polls: nothing a sender wrote to Kurir


#: The kinds whose file the session downloads, by the message field that holds it.
_DOWNLOADABLE = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}


@dataclasses.dataclass(frozen=True)
class Download:
    """An inbound message's file, as neonize's ``download_any`` is asked for it."""

    #: A message holding the file's part alone, out of any wrapper (whatsmeow
    #: looks for the file at the top of the message it is given).
    message: Any
    kind: str
    #: The size the sender declared; 0 when it declared none.
    length: int
    content_type: str
    filename: str | None


def download_of(message: Any) -> Download | None:
    """The file an inbound message carries (picture, video, audio, document, sticker), if any."""
    message = unwrap(message)
    for field, kind in _DOWNLOADABLE.items():
        if _has(message, field):
            part = getattr(message, field)
            return Download(
                message=Message(**{field: part}),
                kind=kind,
                length=int(part.fileLength),
                content_type=part.mimetype or "application/octet-stream",
                filename=(part.fileName or None) if kind == "document" else None,
            )
    return None


def _button_reply(message: Any) -> tuple[str, str | None, str | None] | None:
    """``(quoted id, button id, label)`` of a button or list reply, else None."""
    if _has(message, "interactiveResponseMessage"):
        response = message.interactiveResponseMessage
        button_id = None
        try:
            params = json.loads(response.nativeFlowResponseMessage.paramsJSON or "{}")
        except ValueError:
            params = {}
        if isinstance(params, dict) and params.get("id") is not None:
            button_id = str(params["id"])
        return response.contextInfo.stanzaID, button_id, response.body.text or None
    if _has(message, "listResponseMessage"):
        response = message.listResponseMessage
        row = response.singleSelectReply.selectedRowID or None
        return response.contextInfo.stanzaID, row, response.title or None
    if _has(message, "buttonsResponseMessage"):
        response = message.buttonsResponseMessage
        return (
            response.contextInfo.stanzaID,
            response.selectedButtonID or None,
            response.selectedDisplayText or None,
        )
    if _has(message, "templateButtonReplyMessage"):
        response = message.templateButtonReplyMessage
        # selectedIndex counts from 0; Kurir's button ids from 1.
        index = str(response.selectedIndex + 1) if _has(response, "selectedIndex") else None
        return (
            response.contextInfo.stanzaID,
            response.selectedID or index,
            response.selectedDisplayText or None,
        )
    return None


_RECEIPT_STATUS = {
    Receipt.DELIVERED: "delivered",
    Receipt.READ: "read",
    Receipt.PLAYED: "read",
}


def read_receipt(event: Any) -> ReceiptSeen | None:
    """A delivery or read receipt of messages the device sent; None for any other kind."""
    status = _RECEIPT_STATUS.get(event.Type)
    if status is None or event.MessageSource.IsFromMe or event.MessageSource.IsGroup:
        return None
    # Receipts carry seconds; Kurir keeps milliseconds.
    return ReceiptSeen(
        provider_ids=tuple(event.MessageIDs), status=status, at=int(event.Timestamp) * 1000
    )
