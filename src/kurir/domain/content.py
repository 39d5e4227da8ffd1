"""What a message says: one tagged union of the kinds Kurir sends, and a transport's limits.

Alat WA's clients send plain text and media far more often than buttons, so
every layer (accepting, storing, sending, showing) handles `Content`, the
union, and only a transport looks inside a kind. The union is tagged by
``type`` so the stored JSON says which kind it holds; each kind has one
builder that checks it against the limits its device's transport declares.
"""

import enum
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from kurir.domain.buttons import ButtonLimits, ButtonMessage
from kurir.domain.errors import ValidationError
from kurir.domain.text import check_text


class MessageKind(enum.StrEnum):
    """The kinds of message, as the stored content's ``type`` names them."""

    TEXT = "text"
    MEDIA = "media"
    BUTTON = "button"
    TEMPLATE = "template"


class MediaType(enum.StrEnum):
    """What WhatsApp shows a media message as."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


class TextMessage(msgspec.Struct, frozen=True, tag="text", tag_field="type"):
    body: str


class MediaMessage(msgspec.Struct, frozen=True, tag="media", tag_field="type"):
    """A file the worker fetches from ``url`` when it sends the message.

    ``media_type`` is None when the request did not say: the file's content
    type decides then, at send time.
    """

    url: str
    media_type: MediaType | None = None
    caption: str | None = None
    filename: str | None = None


class TemplateMessage(msgspec.Struct, frozen=True, tag="template", tag_field="type"):
    """A message template approved in the provider's console, filled with parameters.

    WhatsApp lets a business start a conversation (or write after 24 hours of
    the recipient's silence) only with one. ``components`` are passed to the
    provider as given (its parameters for the header, body and buttons); the
    provider checks them against the template and refuses a mismatch.
    """

    name: str
    language: str
    components: tuple[dict[str, Any], ...] = ()


Content = TextMessage | MediaMessage | ButtonMessage | TemplateMessage

_DECODER = msgspec.json.Decoder(Content)
_ENCODER = msgspec.json.Encoder()


def decode_content(stored: str | bytes) -> Content:
    """Stored content JSON (its ``type`` says the kind) as the kind's struct."""
    return _DECODER.decode(stored)


def encode_content(content: Content) -> str:
    return _ENCODER.encode(content).decode()


#: How every stored button message begins (the tag is encoded first), so the
#: store can find button messages without reading their content.
BUTTON_CONTENT_PREFIX = '{"type":"button",'


_KIND_OF: dict[type[Content], MessageKind] = {
    TextMessage: MessageKind.TEXT,
    MediaMessage: MessageKind.MEDIA,
    ButtonMessage: MessageKind.BUTTON,
    TemplateMessage: MessageKind.TEMPLATE,
}

_MB = 1024 * 1024


class TransportLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What a transport carries, and how much of each; checked when a request is accepted."""

    #: Templates are a provider's feature (WhatsApp's Cloud API): only a
    #: transport that declares them carries them.
    kinds: frozenset[MessageKind] = frozenset(MessageKind) - {MessageKind.TEMPLATE}
    max_text: int = 4096
    max_caption: int = 1024
    buttons: ButtonLimits = ButtonLimits()
    #: WhatsApp's own size limits per media type.
    max_image_bytes: int = 5 * _MB
    max_video_bytes: int = 16 * _MB
    max_audio_bytes: int = 16 * _MB
    max_document_bytes: int = 100 * _MB

    def max_media_bytes(self, media_type: MediaType | None) -> int:
        """The size limit for ``media_type``; for a type not yet known, the largest."""
        sizes = {
            MediaType.IMAGE: self.max_image_bytes,
            MediaType.VIDEO: self.max_video_bytes,
            MediaType.AUDIO: self.max_audio_bytes,
            MediaType.DOCUMENT: self.max_document_bytes,
        }
        return sizes[media_type] if media_type is not None else max(sizes.values())


#: The limits of WhatsApp itself, as Meta documents them.
WHATSAPP_LIMITS = TransportLimits()


def kind_of(content: Content) -> MessageKind:
    return _KIND_OF[type(content)]


def require_kind(kind: MessageKind, limits: TransportLimits, transport: str) -> None:
    """Refuse a kind the device's transport cannot carry, naming both."""
    if kind not in limits.kinds:
        raise ValidationError(f"the {transport} transport cannot send {kind} messages")


def build_text_message(*, message: str, limits: TransportLimits) -> TextMessage:
    return TextMessage(body=check_text("message", message, limits.max_text, multiline=True))


def build_media_message(
    *,
    url: str,
    media_type: str | None,
    caption: str | None,
    filename: str | None,
    limits: TransportLimits,
) -> MediaMessage:
    """Check a media request whose ``url`` was checked as a URL already.

    Where the URL may point is checked again when the file is fetched, against
    the address actually connected to. An empty ``media_type`` is none, as an
    empty optional field is in a PHP form, and its case does not matter.
    """
    declared = None
    if media_type is not None and media_type.strip():
        try:
            declared = MediaType(media_type.strip().lower())
        except ValueError:
            raise ValidationError(
                f"type must be image, video, audio or document, not {media_type.strip()[:20]!r}"
            ) from None
    checked_caption = None
    if caption is not None and caption.strip():
        if declared == MediaType.AUDIO:
            raise ValidationError("caption: WhatsApp shows no caption on audio messages")
        checked_caption = check_text("caption", caption, limits.max_caption, multiline=True)
    checked_filename = None
    if filename is not None and filename.strip():
        checked_filename = check_text("filename", filename, 240)
        if "/" in checked_filename or "\\" in checked_filename:
            raise ValidationError("filename must be a name, not a path")
    return MediaMessage(
        url=url,
        media_type=declared,
        caption=checked_caption,
        filename=checked_filename,
    )


#: Meta's rules for a template's name and a language code (``id``, ``en_US``, ``fil``).
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
#: Header, body, buttons, and a carousel's cards: a template has no more.
_MAX_COMPONENTS = 20


def build_template_message(
    *, name: str, language: str, components: Sequence[Any]
) -> TemplateMessage:
    """Check a template request: the name and language as Meta writes them, components' shape.

    What the components hold is the provider's to check against the template.
    """
    name = name.strip()
    if not _TEMPLATE_NAME.fullmatch(name):
        raise ValidationError(
            "template must be the template's name: 1 to 512 lower-case letters, digits and _"
        )
    language = language.strip()
    if not _LANGUAGE.fullmatch(language):
        raise ValidationError(
            f"language must be a language code such as id or en_US, not {language[:20]!r}"
        )
    if len(components) > _MAX_COMPONENTS:
        raise ValidationError(f"components holds {len(components)}; at most {_MAX_COMPONENTS}")
    for index, component in enumerate(components):
        kind = component.get("type") if isinstance(component, dict) else None
        if not isinstance(kind, str) or not kind.strip():
            raise ValidationError(
                f"components[{index}] must be an object with a type (header, body, button)"
            )
        if not isinstance(component.get("parameters", []), list):
            raise ValidationError(f"components[{index}].parameters must be an array")
    return TemplateMessage(name=name, language=language, components=tuple(components))


# What WhatsApp accepts of each media type, by content type. A file of any other
# type is refused before it is sent rather than rejected by WhatsApp after.
_CONTENT_TYPES: dict[str, MediaType] = {
    "image/jpeg": MediaType.IMAGE,
    "image/png": MediaType.IMAGE,
    "video/mp4": MediaType.VIDEO,
    "video/3gpp": MediaType.VIDEO,
    "audio/aac": MediaType.AUDIO,
    "audio/amr": MediaType.AUDIO,
    "audio/mpeg": MediaType.AUDIO,
    "audio/mp4": MediaType.AUDIO,
    "audio/ogg": MediaType.AUDIO,
    "text/plain": MediaType.DOCUMENT,
    "application/pdf": MediaType.DOCUMENT,
    "application/msword": MediaType.DOCUMENT,
    "application/vnd.ms-excel": MediaType.DOCUMENT,
    "application/vnd.ms-powerpoint": MediaType.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (MediaType.DOCUMENT),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": MediaType.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        MediaType.DOCUMENT
    ),
}


def media_type_for(content_type: str, declared: MediaType | None) -> MediaType:
    """Which media type a fetched file is sent as, or a ValidationError saying why not.

    A declared document takes any file, as WhatsApp sends any file as a
    document; a declared image, video or audio must be one WhatsApp plays.
    """
    essence = content_type.split(";")[0].strip().lower()
    found = _CONTENT_TYPES.get(essence)
    if declared == MediaType.DOCUMENT:
        return declared
    if declared is not None and found != declared:
        raise ValidationError(
            f"the file's content type {essence or '(none)'} is not a supported {declared}"
        )
    if found is None:
        raise ValidationError(
            f"the file's content type {essence or '(none)'} is not one WhatsApp sends; "
            "set type to document to send it as a file"
        )
    return found
