"""Button messages: WhatsApp's limits, the layout they get, and resolving a reply."""

import unicodedata
from collections.abc import Mapping, Sequence

import pytest

from kurir.domain import text
from kurir.domain.buttons import (
    ButtonLayout,
    ButtonLimits,
    ButtonMessage,
    build_button_message,
    button_answered_by,
    find_button,
)
from kurir.domain.content import WHATSAPP_LIMITS
from kurir.domain.errors import ValidationError

GOOD = {"header": "Header", "body": "Pilih salah satu:", "footer": "Footer"}


def build(
    buttons: Sequence[str] = ("Opsi 1", "Opsi 2"),
    limits: ButtonLimits = WHATSAPP_LIMITS.buttons,
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
    assert message.layout(WHATSAPP_LIMITS.buttons) == layout


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tidak", (2, "Tidak")),
        ("  nanti SAJA ", (3, "Nanti Saja")),
        ("2", (2, "Tidak")),
        (" 3\n", (3, "Nanti Saja")),
        ("01", (1, "Ya")),
        # Not a button: another position, a number in words or other digits, a sentence.
        ("4", None),
        ("0", None),
        ("-1", None),
        ("2.", None),
        ("\u0662", None),  # ARABIC-INDIC DIGIT TWO
        ("\uff12", None),  # FULLWIDTH DIGIT TWO
        ("9" * 5000, None),
        ("Ya, tentu", None),
        ("", None),
    ],
)
def test_a_text_answers_a_button_by_its_label_or_its_number(
    text: str, expected: tuple[int, str] | None
) -> None:
    assert button_answered_by(BUTTONS, text) == expected


def test_a_label_that_is_a_number_wins_over_the_position() -> None:
    assert button_answered_by(("2", "1"), "2") == (1, "2")
    assert button_answered_by(("2", "1", "Lain"), "3") == (3, "Lain")


# -- text as a person sees it -----------------------------------------------------------------

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one to the eye, 5 code points, 8 units


def test_text_is_stored_in_nfc() -> None:
    decomposed = "Cafe\u0301"  # "e" and a combining acute: what macOS file names hold
    message = build(buttons=[decomposed], parts={"header": decomposed, "body": decomposed})
    assert (message.header, message.body, message.buttons) == ("Café", "Café", ("Café",))


def test_the_length_is_counted_after_nfc() -> None:
    assert build(buttons=["e\u0301" * 20]).buttons == ("é" * 20,)


@pytest.mark.parametrize(
    ("part", "text"),
    [
        ("header", "Promo\x00"),
        ("header", "Pro\tmo"),
        ("header", "Baris 1\nBaris 2"),  # a line break is for the body only
        ("footer", "Foot\x1b[31mer"),
        ("body", "Isi\x07"),
        ("body", "Isi\tlagi"),
        ("body", "Isi\x85lagi"),  # NEL: a C1 control
        ("header", "Promo\u200b"),  # zero-width space
        ("header", "\ufeffPromo"),  # byte-order mark
        ("body", "Bayar \u202eRp 000.01\u202c"),  # right-to-left override: text that lies
        ("header", "Pro\u2028mo"),  # line separator
        ("footer", "Soft\u00adhyphen"),
    ],
)
def test_control_and_format_characters_are_refused(part: str, text: str) -> None:
    field = {"header": "message_header", "body": "message", "footer": "message_footer"}[part]
    code = next(char for char in text.strip() if not char.isprintable() or char == "\xad")
    with pytest.raises(ValidationError) as caught:
        build(parts={part: text})
    assert caught.value.message == (
        f"{field} must not hold control or format characters (found U+{ord(code):04X})"
    )


@pytest.mark.parametrize(
    "label", ["Ya\x00", "Y\u200ba", "\ufeffYa", "Y\ta", "\u200b", "\ufeff", "\u2060"]
)
def test_a_label_with_a_control_or_format_character_is_refused(label: str) -> None:
    with pytest.raises(ValidationError, match=r"^buttons\[1\] must not hold control"):
        build(buttons=["Tidak", label])


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ("Baris 1\nBaris 2", "Baris 1\nBaris 2"),
        ("Baris 1\r\nBaris 2", "Baris 1\r\nBaris 2"),
        ("Baris 1\u2028Baris 2", "Baris 1\u2028Baris 2"),
    ],
)
def test_line_breaks_are_allowed_in_the_body(body: str, stored: str) -> None:
    assert build(parts={"body": body}).body == stored


@pytest.mark.parametrize(
    "text",
    [
        FAMILY,  # zero-width joiners hold the family together
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England: tags
        "\u2764\ufe0f",  # a heart as an emoji: a variation selector
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a zero-width non-joiner
        "\u200f\u05e9\u05dc\u05d5\u05dd",  # Hebrew after a right-to-left mark
        "Opsi\u00a01",  # a no-break space
        "\U0001faf8",  # an emoji newer than Python 3.11's Unicode tables (15.0)
    ],
)
def test_what_real_text_needs_is_allowed(text: str) -> None:
    message = build(buttons=[text], parts={"header": text, "footer": text})
    assert message.buttons == (text,)
    assert message.header == text


@pytest.mark.parametrize(
    "blank",
    [
        "\u3164",  # Hangul filler: a letter, drawn as nothing
        "\u115f",
        "\uffa0",
        "\u2800",  # the blank Braille pattern
        "\u3164\u2800 \u3164",
        "\u200d",  # a joiner alone
        "\u0301",  # a combining mark alone
        "\ufe0f",
    ],
)
@pytest.mark.parametrize(
    ("part", "field"),
    [("header", "message_header"), ("body", "message"), ("footer", "message_footer")],
)
def test_text_without_a_visible_character_is_refused(blank: str, part: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build(parts={part: blank})
    assert caught.value.message == f"{field} must hold a visible character"


@pytest.mark.parametrize("blank", ["\u3164", "\u2800", "\u200d\u200c"])
def test_a_label_without_a_visible_character_is_refused(blank: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build(buttons=["Ya", blank])
    assert caught.value.message == "buttons[1] must hold a visible character"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Ya", "Ｙａ"),  # noqa: RUF001  # fullwidth letters are the point
        ("Ya", "Y\u200da"),
        ("Ya", "Ya\ufe0f"),
        ("Ya", "Y\u3164a"),
        ("café", "cafe\u0301"),
        ("Café", "CAFÉ"),
        ("Opsi 1", "Opsi\u00a01"),
        ("Opsi 1", "Opsi   1"),
        ("\ufb01x", "fix"),  # a ligature
        ("\u2764", "\u2764\ufe0f"),
        ("Straße", "STRASSE"),
    ],
)
def test_labels_that_look_alike_are_duplicates(first: str, second: str) -> None:
    with pytest.raises(ValidationError, match=r"^buttons\[1\] repeats the label "):
        build(buttons=[first, second])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["\U0001f600" * 10], None),  # 20 units
        (
            ["\U0001f600" * 11],
            "buttons[0] is 22 characters in UTF-16 units (an emoji counts 2 or more); "
            "at most 20 are allowed",
        ),
        ([FAMILY * 2], None),  # 16 units
        (
            [FAMILY * 3],
            "buttons[0] is 24 characters in UTF-16 units (an emoji counts 2 or more); "
            "at most 20 are allowed",
        ),
        (["é" * 20], None),  # one unit each, as one code point each
    ],
)
def test_lengths_are_counted_in_utf16_units(labels: list[str], message: str | None) -> None:
    if message is None:
        assert build(buttons=labels).buttons == tuple(labels)
        return
    with pytest.raises(ValidationError) as caught:
        build(buttons=labels)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("ＴＩＤＡＫ", (2, "Tidak")),  # noqa: RUF001  # fullwidth, as a phone keyboard may type it
        ("nanti\u00a0saja", (3, "Nanti Saja")),
    ],
)
def test_find_button_matches_what_looks_the_same(choice: str, expected: tuple[int, str]) -> None:
    assert find_button(BUTTONS, choice) == expected


def test_the_refused_characters_are_this_pythons_controls_and_format_characters() -> None:
    """The written-out list (text._REFUSED) against unicodedata, code point by code point.

    The list may hold format characters newer than this Python's tables (they
    are unassigned here); when a newer Python's tables add one the list lacks,
    this says which.
    """
    everything = "".join(map(chr, range(0x110000)))
    needed = {"\u200c", "\u200d", "\u200e", "\u200f", "\u061c"} | set(
        map(chr, range(0xE0020, 0xE0080))
    )
    expected = {
        char
        for char in everything
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") and char not in needed
    }
    refused = set(text._REFUSED.findall(everything))
    assert {f"U+{ord(c):04X}" for c in expected - refused} == set()
    newer = {char for char in refused - expected if unicodedata.category(char) != "Cn"}
    assert {f"U+{ord(c):04X}" for c in newer} == set()
    assert set(text._REFUSED_IN_BODY.findall(everything)) == refused - set("\n\r\u2028\u2029")
