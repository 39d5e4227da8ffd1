"""Request bodies converted from a handler's field mapping, and refused in Kurir's words.

The e2e tests hold every rule of /send/button and the sandbox reply against a
real server; these cover what the converter does for every request type,
including those whose handlers are still to come.
"""

from typing import Any

import pytest

from kurir.api.requests import (
    SandboxReplyRequest,
    SendButtonRequest,
    SendMediaRequest,
    SendTextRequest,
    convert_fields,
)
from kurir.domain.errors import ValidationError

BUTTON: dict[str, Any] = {
    "device": "dev-main",
    "phone": "08111111111",
    "message_header": "Header",
    "message": "Pilih salah satu:",
    "message_footer": "Footer",
    "buttons": ["Opsi 1", "Opsi 2"],
}
TEXT: dict[str, Any] = {"device": "dev-main", "phone": 628111111111, "message": "Halo"}
MEDIA: dict[str, Any] = {"device": "dev-main", "phone": "08111111111", "url": "https://a.b/c.pdf"}


def _refusal(fields: dict[str, Any], request_type: type[Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        convert_fields(fields, request_type)
    return raised.value.message


def test_a_button_request_keeps_its_fields_as_sent() -> None:
    request = convert_fields(
        {**BUTTON, "unknown": 1, "schedule": "2026-12-31 09:30"}, SendButtonRequest
    )
    assert request == SendButtonRequest(**{**BUTTON, "schedule": "2026-12-31 09:30"})


@pytest.mark.parametrize(
    ("buttons", "labels"),
    [
        pytest.param('["A", "B"]', ["A", "B"], id="JSON-encoded"),
        pytest.param('  ["A"]', ["A"], id="JSON-encoded after spaces"),
        pytest.param(["A"], ["A"], id="array"),
    ],
)
def test_buttons_come_as_an_array_or_one_json_encoded_field(
    buttons: object, labels: list[str]
) -> None:
    assert convert_fields({**BUTTON, "buttons": buttons}, SendButtonRequest).buttons == labels


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"device": None}, "device is required"),
        ({"message_footer": None}, "message_footer is required"),
        ({"device": 7}, "device must be a string"),
        ({"phone": True}, "phone must be a string"),
        ({"phone": 1.5}, "phone must be a string"),
        ({"phone": " "}, "phone must not be empty"),
        ({"message": "\u3000\n"}, "message must not be empty"),  # ideographic space
        ({"schedule": 20261231}, "schedule must be a string"),
        ({"buttons": None}, "buttons is required"),
        ({"buttons": "A"}, "buttons must be an array of labels"),
        ({"buttons": {"0": "A"}}, "buttons must be an array of labels"),
        ({"buttons": '["A",'}, "buttons is not a valid JSON array"),
        ({"buttons": "[" * 5000}, "buttons is not a valid JSON array"),
        ({"buttons": '{"a": 1}'}, "buttons must be an array of labels"),
        ({"buttons": '["A", 1]'}, "buttons[1] must be a string"),
        ({"buttons": ["A", None]}, "buttons[1] must be a string"),
        ({"buttons": [["A"]]}, "buttons[0] must be a string"),
    ],
)
def test_a_button_request_is_refused_naming_the_field(
    changes: dict[str, object], message: str
) -> None:
    assert _refusal({**BUTTON, **changes}, SendButtonRequest) == message


@pytest.mark.parametrize("name", list(BUTTON))
def test_a_missing_field_is_required(name: str) -> None:
    fields = {key: value for key, value in BUTTON.items() if key != name}
    assert _refusal(fields, SendButtonRequest) == f"{name} is required"


def test_the_first_field_at_fault_in_the_body_is_reported() -> None:
    fields = {"message": 1, **BUTTON}
    fields.update(message=1, device=5)  # keeps the order of the keys: message first
    assert _refusal(fields, SendButtonRequest) == "message must be a string"


def test_a_blank_field_is_refused_only_after_every_type_is_right() -> None:
    assert _refusal({**BUTTON, "device": "", "buttons": 3}, SendButtonRequest) == (
        "buttons must be an array of labels"
    )


def test_a_text_request() -> None:
    assert convert_fields(TEXT, SendTextRequest) == SendTextRequest(
        device="dev-main", phone=628111111111, message="Halo"
    )
    assert _refusal({**TEXT, "message": ["Halo"]}, SendTextRequest) == "message must be a string"
    assert _refusal({**TEXT, "message": ""}, SendTextRequest) == "message must not be empty"


def test_a_media_request() -> None:
    full = {**MEDIA, "type": "document", "caption": "Invoice", "filename": "invoice.pdf"}
    assert convert_fields(full, SendMediaRequest) == SendMediaRequest(**full)
    assert convert_fields(MEDIA, SendMediaRequest).type is None
    for wrong in (1, ["image"]):
        assert _refusal({**MEDIA, "type": wrong}, SendMediaRequest) == (
            "type must be image, video, audio or document"
        )
    # Which texts are a type is the builder's to say: "" is none, "Image" is image.
    assert convert_fields({**MEDIA, "type": "sticker"}, SendMediaRequest).type == "sticker"
    assert _refusal({**MEDIA, "url": None}, SendMediaRequest) == "url is required"
    assert _refusal({**MEDIA, "caption": 5}, SendMediaRequest) == "caption must be a string"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"phone": "0811", "button": "Opsi 1"}, SandboxReplyRequest(phone="0811", button="Opsi 1")),
        ({"phone": 628, "button": 2}, SandboxReplyRequest(phone=628, button=2)),
        ({"phone": "0811", "text": "Halo"}, SandboxReplyRequest(phone="0811", text="Halo")),
        ({"phone": "0811", "button": None}, SandboxReplyRequest(phone="0811")),
    ],
)
def test_a_sandbox_reply(fields: dict[str, object], expected: SandboxReplyRequest) -> None:
    assert convert_fields(fields, SandboxReplyRequest) == expected


@pytest.mark.parametrize("button", [True, 2.0, ["Opsi 1"], {"label": "Opsi 1"}])
def test_a_sandbox_reply_that_is_not_a_choice(button: object) -> None:
    assert _refusal({"phone": "0811", "button": button}, SandboxReplyRequest) == (
        "button must be a button's label or its position (from 1)"
    )
