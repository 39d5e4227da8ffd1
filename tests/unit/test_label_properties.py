"""Properties of every label Kurir accepts, over text hypothesis makes up.

Whatever the labels, an accepted one is in NFC, holds no control character and
something to see; no two accepted together look alike (by the test's own
measure); and a label made to look like an accepted one is refused beside it
as a repeat.
"""

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from kurir.domain.buttons import build_button_message
from kurir.domain.content import WHATSAPP_LIMITS
from kurir.domain.errors import ValidationError

#: Drawn as blank space although letters or symbols (the test's own list).
BLANK = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
#: Format characters real text needs: joiners, direction marks, flag tags.
TAGS = {chr(code) for code in range(0xE0020, 0xE0080)}
NEEDED_FORMAT = {"\u200c", "\u200d", "\u200e", "\u200f", "\u061c"} | TAGS

# Mostly letters, digits and the like, with every other kind of character mixed in.
label_text = st.text(
    st.one_of(
        st.characters(categories=("L", "N", "P", "S", "Zs")),
        st.characters(codec="utf-8"),  # anything but lone surrogates
        st.sampled_from(sorted(BLANK | NEEDED_FORMAT | {"\u200b", "\ufeff", "\ufe0f", "\x00"})),
    ),
    min_size=1,
    max_size=24,
)
# Text of which most is accepted, with the invisible characters that make look-alikes.
# Without the dotless i: its upper case is I, which Unicode's case folding (not
# Turkish) keeps apart from it, as it looks apart.
likely_label = st.text(
    st.one_of(
        st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\u0131"),
        st.sampled_from(sorted(BLANK | NEEDED_FORMAT | {"\ufe0f", "\u034f"})),
    ),
    min_size=1,
    max_size=12,
)


def _accepted(labels: list[str]) -> tuple[str, ...] | None:
    try:
        message = build_button_message(
            header="H", body="B", footer="F", buttons=labels, limits=WHATSAPP_LIMITS.buttons
        )
    except ValidationError:
        return None
    return message.buttons


def _visible(char: str) -> bool:
    category = unicodedata.category(char)
    return char not in BLANK and (category[0] in "LNPS" or category in ("Co", "Cn"))


@settings(max_examples=500, deadline=None)
@given(label_text)
def test_an_accepted_label_is_nfc_visible_and_without_controls(label: str) -> None:
    accepted = _accepted([label])
    if accepted is None:
        return
    [stored] = accepted
    assert unicodedata.is_normalized("NFC", stored)
    assert stored == stored.strip()
    assert any(map(_visible, stored))
    assert not any(unicodedata.category(char) == "Cc" for char in stored)
    assert all(char in NEEDED_FORMAT for char in stored if unicodedata.category(char) == "Cf")


def _looks(label: str) -> str:
    """The test's own idea of how a label looks: compatibility forms, case and
    invisible characters (but a flag's tags) set aside, runs of spaces as one."""
    shown = "".join(
        char
        for char in unicodedata.normalize("NFKD", label)
        if char not in BLANK
        and not (unicodedata.category(char) == "Cf" and char not in TAGS)
        and not "\ufe00" <= char <= "\ufe0f"
        and char != "\u034f"
    )
    return " ".join(unicodedata.normalize("NFKC", shown.casefold()).split())


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _with_joiner(text: str) -> str:
    middle = len(text) // 2
    return text[:middle] + "\u200d" + text[middle:]


LOOK_ALIKES: dict[str, Callable[[str], str]] = {
    "upper case": str.upper,
    "lower case": str.lower,
    "swapped case": str.swapcase,
    "decomposed": lambda text: unicodedata.normalize("NFD", text),
    "fullwidth": _fullwidth,
    "a joiner inside": _with_joiner,
    "a variation selector": lambda text: text + "\ufe0f",
    "no-break spaces": lambda text: text.replace(" ", "\u00a0"),
    "doubled spaces": lambda text: text.replace(" ", "  "),
}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(likely_label, min_size=1, max_size=6),
    st.lists(st.sampled_from(sorted(LOOK_ALIKES)), max_size=4),
)
def test_no_two_accepted_labels_look_alike(bases: list[str], hows: list[str]) -> None:
    # Some labels are made to look like others, so that refusals are put to the test.
    alikes = [LOOK_ALIKES[how](bases[index % len(bases)]) for index, how in enumerate(hows)]
    accepted = _accepted([*bases, *alikes])
    event("accepted" if accepted is not None else "refused")
    if accepted is None:
        return
    looks = [_looks(label) for label in accepted]
    assert len(set(looks)) == len(looks), accepted


@settings(max_examples=300, deadline=None)
@given(likely_label, st.sampled_from(sorted(LOOK_ALIKES)))
def test_a_label_made_to_look_like_an_accepted_one_is_a_repeat(label: str, how: str) -> None:
    assume(_accepted([label]) is not None)
    alike = LOOK_ALIKES[how](label)
    # The look-alike must pass the other rules on its own (an upper-cased "ß"
    # may grow past the length limit): then beside the label it is a repeat.
    assume(_accepted([alike]) is not None)
    with pytest.raises(ValidationError) as caught:
        build_button_message(
            header="H", body="B", footer="F", buttons=[label, alike], limits=WHATSAPP_LIMITS.buttons
        )
    assert caught.value.message.startswith("buttons[1] repeats the label "), (label, alike, how)
