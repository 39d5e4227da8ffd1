"""A broadcast's file as base64, and the stop words of opting out."""

import base64

import pytest

from kurir.domain.contacts import is_opt_out, opt_out_words, yes_no
from kurir.domain.content import WHATSAPP_LIMITS, MediaType, TransportLimits
from kurir.domain.errors import ValidationError
from kurir.domain.inline_media import decode_inline_media, sniff_media

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, (MediaType.IMAGE, "image/png")),
        (JPEG, (MediaType.IMAGE, "image/jpeg")),
        (b"%PDF-1.7\n", (MediaType.DOCUMENT, "application/pdf")),
        (b"\x00\x00\x00\x18ftypmp42", (MediaType.VIDEO, "video/mp4")),
        (b"\x00\x00\x00\x18ftyp3gp4", (MediaType.VIDEO, "video/3gpp")),
        (b"\x00\x00\x00\x18ftypM4A ", (MediaType.AUDIO, "audio/mp4")),
        (b"OggS\x00", (MediaType.AUDIO, "audio/ogg")),
        (b"ID3\x04", (MediaType.AUDIO, "audio/mpeg")),
        (b"#!AMR\n", (MediaType.AUDIO, "audio/amr")),
        (b"GIF89a", None),
        (b"", None),
    ],
)
def test_the_type_is_told_from_the_first_bytes(
    data: bytes, expected: tuple[MediaType, str] | None
) -> None:
    assert sniff_media(data) == expected


def test_base64_and_data_urls_are_decoded() -> None:
    encoded = base64.b64encode(PNG).decode()
    for raw in (encoded, f"data:image/png;base64,{encoded}", f" {encoded[:20]}\n{encoded[20:]} "):
        media = decode_inline_media("media_base64", raw, WHATSAPP_LIMITS)
        assert (media.media_type, media.content_type, media.data) == (
            MediaType.IMAGE,
            "image/png",
            PNG,
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "media_base64 is required for a media broadcast"),
        ("not base64!", "media_base64 is not valid base64"),
        ("iVBORw0KGgo=x", "media_base64 is not valid base64"),
        (
            "Zm9vYmFy",
            "media_base64 is not a JPEG or PNG image, an MP4 or 3GPP video, "
            "AAC, AMR, MP3, M4A or OGG audio, or a PDF",
        ),
        ("ümlaut", "media_base64 is not valid base64"),
    ],
)
def test_a_bad_file_is_refused(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        decode_inline_media("media_base64", raw, WHATSAPP_LIMITS)
    assert raised.value.message == message


def test_a_file_over_its_types_limit_is_refused() -> None:
    limits = TransportLimits(
        max_image_bytes=100, max_video_bytes=1000, max_audio_bytes=1000, max_document_bytes=1000
    )
    encoded = base64.b64encode(PNG + b"\x00" * 100).decode()
    with pytest.raises(ValidationError) as raised:
        decode_inline_media("media_base64", encoded, limits)
    assert raised.value.message == (
        "media_base64: the image is 172 bytes; WhatsApp takes at most 100"
    )
    # Larger than any type takes: refused before decoding.
    huge = "A" * 4000
    with pytest.raises(ValidationError, match="holds more than 1000 bytes"):
        decode_inline_media("media_base64", huge, limits)


def test_stop_words_alone_opt_out() -> None:
    words = opt_out_words("STOP, berhenti,,")
    assert words == {"stop", "berhenti"}
    for text in ("STOP", "stop", " Stop! ", "BERHENTI.", "\uff53\uff54\uff4f\uff50"):  # fullwidth
        assert is_opt_out(text, words), text
    assert not is_opt_out(None, words)
    for other in ("stop sending the old price", "", "unstop", "STOP" * 20):
        assert not is_opt_out(other, words), other


def test_yes_and_no() -> None:
    assert yes_no("f", None, default=True) is True
    assert yes_no("f", " ", default=False) is False
    assert yes_no("f", "YES", default=False) is True
    assert yes_no("f", "0", default=True) is False
    assert yes_no("f", False, default=True) is False
    with pytest.raises(ValidationError, match="f must be yes or no, got 'maybe'"):
        yes_no("f", "maybe", default=True)
