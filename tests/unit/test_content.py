"""The message kinds: which a transport carries, and each kind's builder."""

import pytest

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import (
    BUTTON_CONTENT_PREFIX,
    WHATSAPP_LIMITS,
    MediaType,
    MessageKind,
    TextMessage,
    TransportLimits,
    build_media_message,
    decode_content,
    encode_content,
    media_type_for,
    require_kind,
)
from kurir.domain.errors import ValidationError


def test_a_kind_the_transport_does_not_carry_is_refused_naming_both() -> None:
    text_only = TransportLimits(kinds=frozenset({MessageKind.TEXT}))
    require_kind(MessageKind.TEXT, text_only, "pager")
    with pytest.raises(ValidationError) as refused:
        require_kind(MessageKind.MEDIA, text_only, "pager")
    assert refused.value.message == "the pager transport cannot send media messages"


def test_stored_content_says_its_kind_and_reads_back_the_same() -> None:
    media = build_media_message(
        url="https://example.com/a.pdf",
        media_type="Document",
        caption=" Invoice ",
        filename="a.pdf",
        limits=WHATSAPP_LIMITS,
    )
    stored = encode_content(media)
    assert stored.startswith('{"type":"media",')
    assert decode_content(stored) == media
    assert media.media_type == MediaType.DOCUMENT
    assert media.caption == "Invoice"


def test_a_stored_button_message_begins_as_the_store_finds_it() -> None:
    """The store's index of sent button messages matches this prefix of the JSON."""
    button = ButtonMessage(header="", body="B", footer="", buttons=("Ya",))
    assert encode_content(button).startswith(BUTTON_CONTENT_PREFIX)
    # A text that quotes it is not one.
    assert not encode_content(TextMessage(body=BUTTON_CONTENT_PREFIX)).startswith(
        BUTTON_CONTENT_PREFIX
    )


@pytest.mark.parametrize(
    ("content_type", "declared", "sent_as"),
    [
        ("image/jpeg", None, MediaType.IMAGE),
        ("IMAGE/PNG; charset=binary", None, MediaType.IMAGE),
        ("video/mp4", MediaType.VIDEO, MediaType.VIDEO),
        ("application/zip", MediaType.DOCUMENT, MediaType.DOCUMENT),
        ("application/pdf", None, MediaType.DOCUMENT),
    ],
)
def test_the_file_type_decides_how_media_is_sent(
    content_type: str, declared: MediaType | None, sent_as: MediaType
) -> None:
    assert media_type_for(content_type, declared) == sent_as


@pytest.mark.parametrize(
    ("content_type", "declared"),
    [("application/zip", None), ("text/html", MediaType.IMAGE), ("", None)],
)
def test_a_file_whatsapp_would_not_show_as_asked_is_refused(
    content_type: str, declared: MediaType | None
) -> None:
    with pytest.raises(ValidationError):
        media_type_for(content_type, declared)
