"""A file sent inside a request as base64 (a media broadcast's ``media_base64``).

Unlike a URL, which a worker fetches at send time, the file is in hand when
the request is accepted: it is decoded, its type told from its first bytes
(a declared content type would only be the client's guess) and its size
checked against WhatsApp's limit for that type, all before anything is stored.
"""

import base64
import binascii
import re

import msgspec

from kurir.domain.content import MediaType, TransportLimits
from kurir.domain.errors import ValidationError

#: ``data:image/png;base64,`` in front of the data, as browsers write it.
_DATA_URL = re.compile(r"data:[\w.+/-]*(?:;[\w=.-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")
_KINDS = "a JPEG or PNG image, an MP4 or 3GPP video, AAC, AMR, MP3, M4A or OGG audio, or a PDF"


class InlineMedia(msgspec.Struct, frozen=True):
    media_type: MediaType
    content_type: str
    data: bytes


def decode_inline_media(field: str, raw: str, limits: TransportLimits) -> InlineMedia:
    """The file in ``raw`` (base64, maybe as a data URL), or a ValidationError naming ``field``."""
    text = raw.strip()
    prefix = _DATA_URL.match(text)
    if prefix is not None:
        text = text[prefix.end() :]
    encoded = _WHITESPACE.sub(b"", text.encode("ascii", "replace"))
    if not encoded:
        raise ValidationError(f"{field} is required for a media broadcast")
    largest = limits.max_media_bytes(None)
    if len(encoded) // 4 * 3 > largest + 3:  # refused before decoding it all
        raise ValidationError(f"{field} holds more than {largest} bytes")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"{field} is not valid base64") from None
    sniffed = sniff_media(data)
    if sniffed is None:
        raise ValidationError(f"{field} is not {_KINDS}")
    media_type, content_type = sniffed
    if len(data) > limits.max_media_bytes(media_type):
        raise ValidationError(
            f"{field}: the {media_type} is {len(data)} bytes; "
            f"WhatsApp takes at most {limits.max_media_bytes(media_type)}"
        )
    return InlineMedia(media_type=media_type, content_type=content_type, data=data)


def sniff_media(data: bytes) -> tuple[MediaType, str] | None:
    """The media type and content type the file's first bytes show, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return MediaType.IMAGE, "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.IMAGE, "image/png"
    if data.startswith(b"%PDF-"):
        return MediaType.DOCUMENT, "application/pdf"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand.startswith(b"3g"):
            return MediaType.VIDEO, "video/3gpp"
        if brand in (b"M4A ", b"M4B "):
            return MediaType.AUDIO, "audio/mp4"
        return MediaType.VIDEO, "video/mp4"
    if data.startswith(b"OggS"):
        return MediaType.AUDIO, "audio/ogg"
    if data.startswith(b"#!AMR"):
        return MediaType.AUDIO, "audio/amr"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MediaType.AUDIO, "audio/mpeg"
    if data[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return MediaType.AUDIO, "audio/aac"
    return None
