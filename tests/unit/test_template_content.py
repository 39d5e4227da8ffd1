"""Template messages: Meta's names and language codes, components passed on in shape."""

import re
from typing import Any

import pytest

from kurir.domain.content import (
    WHATSAPP_LIMITS,
    MessageKind,
    TemplateMessage,
    build_template_message,
    decode_content,
    encode_content,
    require_kind,
)
from kurir.domain.errors import ValidationError
from kurir.transports import transport_limits

BODY = {"type": "body", "parameters": [{"type": "text", "text": "Budi"}]}


def test_a_template_is_stored_as_given_and_reads_back_the_same() -> None:
    template = build_template_message(name=" order_shipped ", language="en_US", components=[BODY])
    assert template == TemplateMessage(name="order_shipped", language="en_US", components=(BODY,))
    assert decode_content(encode_content(template)) == template


def test_only_a_transport_that_declares_templates_carries_them() -> None:
    with pytest.raises(ValidationError, match="the sandbox transport cannot send template"):
        require_kind(MessageKind.TEMPLATE, transport_limits("sandbox"), "sandbox")
    require_kind(MessageKind.TEMPLATE, transport_limits("cloud"), "cloud")
    assert MessageKind.TEMPLATE not in WHATSAPP_LIMITS.kinds


@pytest.mark.parametrize(
    ("name", "language", "components", "message"),
    [
        ("Order Shipped", "id", [], "template must be the template's name"),
        ("", "id", [], "template must be the template's name"),
        ("x" * 513, "id", [], "template must be the template's name"),
        ("order", "Indonesia", [], "language must be a language code such as id or en_US"),
        ("order", "en-US", [], "language must be a language code"),
        ("order", "id", ["body"], "components[0] must be an object with a type"),
        ("order", "id", [BODY, {"parameters": []}], "components[1] must be an object with a type"),
        ("order", "id", [{"type": "body", "parameters": "Budi"}], "components[0].parameters"),
        ("order", "id", [BODY] * 21, "components holds 21; at most 20"),
    ],
)
def test_a_template_request_that_cannot_be_sent_is_refused(
    name: str, language: str, components: list[Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        build_template_message(name=name, language=language, components=components)


@pytest.mark.parametrize("language", ["id", "en_US", "pt_BR", "fil", "zh_HK"])
def test_metas_language_codes_are_taken(language: str) -> None:
    assert build_template_message(name="hello_world", language=language, components=[])
