"""Button messages: WhatsApp's limits, the layout they get, and resolving a reply."""

from collections.abc import Mapping, Sequence

import pytest

from kurir.domain.buttons import (
    WHATSAPP_LIMITS,
    ButtonLayout,
    ButtonLimits,
    ButtonMessage,
    build_button_message,
    find_button,
)
from kurir.domain.errors import ValidationError

GOOD = {"header": "Header", "body": "Pilih salah satu:", "footer": "Footer"}


def build(
    buttons: Sequence[str] = ("Opsi 1", "Opsi 2"),
    limits: ButtonLimits = WHATSAPP_LIMITS,
    parts: Mapping[str, str] | None = None,
) -> ButtonMessage:
    """A message from good parts, with ``parts`` (header, body, footer) replaced."""
    values = {**GOOD, **(parts or {})}
    return build_button_message(
        header=values["header"],
        body=values["body"],
        footer=values["footer"],
        buttons=buttons,
        limits=limits,
    )


def test_trims_every_part() -> None:
    parts = {"header": "  Header ", "body": "\tPilih salah satu:\n", "footer": " Footer"}
    message = build(buttons=[" A ", "B  "], parts=parts)
    assert message == ButtonMessage("Header", "Pilih salah satu:", "Footer", ("A", "B"))


@pytest.mark.parametrize(
    ("count", "layout"),
    [
        (1, ButtonLayout.REPLY_BUTTONS),
        (3, ButtonLayout.REPLY_BUTTONS),
        (4, ButtonLayout.LIST),
        (10, ButtonLayout.LIST),
    ],
)
def test_up_to_three_are_reply_buttons_beyond_that_a_list(count: int, layout: ButtonLayout) -> None:
    message = build(buttons=[f"Opsi {n}" for n in range(count)])
    assert len(message.buttons) == count
    assert message.layout(WHATSAPP_LIMITS) == layout


def test_layout_follows_the_transports_limits() -> None:
    message = build(buttons=["A", "B"])
    assert message.layout(ButtonLimits(max_reply_buttons=1)) == ButtonLayout.LIST


@pytest.mark.parametrize(
    ("field", "part", "limit"),
    [("message_header", "header", 60), ("message", "body", 1024), ("message_footer", "footer", 60)],
)
def test_text_limits(field: str, part: str, limit: int) -> None:
    # At the limit (ignoring the whitespace around it) it passes; one more fails.
    assert len(getattr(build(parts={part: " " + "x" * limit + " "}), part)) == limit
    with pytest.raises(ValidationError) as caught:
        build(parts={part: "é" * (limit + 1)})  # characters, not bytes
    assert caught.value.message == (
        f"{field} is {limit + 1} characters; at most {limit} are allowed"
    )


@pytest.mark.parametrize(
    ("field", "part"),
    [("message_header", "header"), ("message", "body"), ("message_footer", "footer")],
)
@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_text_parts_must_not_be_blank(field: str, part: str, blank: str) -> None:
    with pytest.raises(ValidationError, match=f"^{field} must not be empty$"):
        build(parts={part: blank})


@pytest.mark.parametrize(
    ("buttons", "message"),
    [
        ([], "buttons must hold at least one label"),
        (
            [f"B{n}" for n in range(11)],
            "buttons holds 11 labels; this device's transport sends at most 10",
        ),
        (["A", "  "], "buttons[1] must not be empty"),
        (["A", "B", "x" * 21], "buttons[2] is 21 characters; at most 20 are allowed"),
        (["Ya", "Tidak", " ya "], "buttons[2] repeats the label 'ya'"),
        (["Straße", "STRASSE"], "buttons[1] repeats the label 'STRASSE'"),
    ],
)
def test_button_rules(buttons: list[str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build(buttons=buttons)
    assert caught.value.message == message


def test_a_label_of_twenty_characters_is_allowed() -> None:
    assert build(buttons=["x" * 20]).buttons == ("x" * 20,)


@pytest.mark.parametrize(
    ("limits", "parts", "message"),
    [
        (
            ButtonLimits(max_buttons=2),
            {},
            "buttons holds 3 labels; this device's transport sends at most 2",
        ),
        (ButtonLimits(max_label=5), {}, "buttons[2] is 6 characters; at most 5 are allowed"),
        (ButtonLimits(max_header=3), {}, "message_header is 6 characters; at most 3 are allowed"),
        (
            ButtonLimits(max_body=3),
            {"body": "Pilih"},
            "message is 5 characters; at most 3 are allowed",
        ),
    ],
)
def test_limits_come_from_the_transport(
    limits: ButtonLimits, parts: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        build(buttons=["A", "B", "Sudah!"], limits=limits, parts=parts)
    assert caught.value.message == message


def test_the_first_broken_rule_is_reported() -> None:
    with pytest.raises(ValidationError, match=r"^message_header must not be empty$"):
        build(buttons=[], parts={"header": "", "body": "", "footer": ""})


BUTTONS = ("Ya", "Tidak", "Nanti Saja")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (1, (1, "Ya")),
        (3, (3, "Nanti Saja")),
        ("Tidak", (2, "Tidak")),
        ("tidak", (2, "Tidak")),
        ("  NANTI saja ", (3, "Nanti Saja")),
    ],
)
def test_find_button_by_position_or_label(choice: str | int, expected: tuple[int, str]) -> None:
    assert find_button(BUTTONS, choice) == expected


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        (0, "button must be between 1 and 3, got 0"),
        (4, "button must be between 1 and 3, got 4"),
        (-1, "button must be between 1 and 3, got -1"),
        ("Mungkin", "button 'Mungkin' is not one of the message's buttons"),
        # A position written as text is a label, and no label is "2".
        ("2", "button '2' is not one of the message's buttons"),
        ("", "button '' is not one of the message's buttons"),
        ("z" * 100, f"button {'z' * 40!r} is not one of the message's buttons"),
    ],
)
def test_find_button_refuses_what_the_message_does_not_offer(
    choice: str | int, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        find_button(BUTTONS, choice)
    assert caught.value.message == message
