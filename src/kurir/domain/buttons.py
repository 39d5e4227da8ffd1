"""A button message: its parts, the limits a transport can carry, and its layout.

WhatsApp offers at most three reply buttons; more choices (up to ten) go in a
list message. Which limits apply belongs to the device's transport, so the
request is checked against them when it is accepted, not when it fails later.

Text is stored as the recipient will see it: in NFC, trimmed, without control
or format characters (line breaks are allowed in the body), and never blank to
the eye. Lengths are counted in UTF-16 code units: WhatsApp's documentation
says "characters" without saying which, and UTF-16 units (what Java and
JavaScript count) are never fewer than code points or than the characters a
person sees, so a text within Kurir's limit is within WhatsApp's whichever
it counts. The price is that most emoji count 2 (a family of three, one to
the eye and five code points, counts 8): a text near the limit may be refused
that WhatsApp would have taken, never the other way round.
"""

import enum
import re
import unicodedata
from collections.abc import Sequence

import msgspec

from kurir.domain.errors import ValidationError


class ButtonLayout(enum.StrEnum):
    """How the choices reach the recipient."""

    REPLY_BUTTONS = "reply_buttons"
    LIST = "list"


class ButtonLimits(msgspec.Struct, frozen=True):
    """What one transport can carry in one interactive message.

    Lengths are in UTF-16 code units, as the module's docstring explains.
    """

    max_reply_buttons: int = 3
    max_buttons: int = 10
    max_label: int = 20
    max_header: int = 60
    max_body: int = 1024
    max_footer: int = 60


# The limits of WhatsApp's interactive messages, as the Cloud API documents them.
WHATSAPP_LIMITS = ButtonLimits()


class ButtonMessage(msgspec.Struct, frozen=True):
    """The content of a validated button message, as stored and as sent."""

    header: str
    body: str
    footer: str
    buttons: tuple[str, ...]

    def layout(self, limits: ButtonLimits) -> ButtonLayout:
        """Reply buttons while they fit, a list message beyond that."""
        if len(self.buttons) <= limits.max_reply_buttons:
            return ButtonLayout.REPLY_BUTTONS
        return ButtonLayout.LIST


def build_button_message(
    *,
    header: str,
    body: str,
    footer: str,
    buttons: Sequence[str],
    limits: ButtonLimits,
) -> ButtonMessage:
    """Check every part against ``limits`` and return the trimmed message.

    The first broken rule is reported, naming the request field it came from.
    """
    message = ButtonMessage(
        header=_text("message_header", header, limits.max_header),
        body=_text("message", body, limits.max_body, multiline=True),
        footer=_text("message_footer", footer, limits.max_footer),
        buttons=_labels(buttons, limits),
    )
    return message


#: Format characters that text needs: the joiners of emoji sequences and of
#: Indic and Persian words, and the direction marks of right-to-left text.
_JOINERS_AND_MARKS = frozenset("\u200c\u200d\u200e\u200f\u061c")
#: The tags that make a flag of England or Scotland out of a black flag.
_TAGS = frozenset(map(chr, range(0xE0020, 0xE0080)))
_NEEDED_FORMAT = _JOINERS_AND_MARKS | _TAGS
#: Other characters that show nothing: variation selectors, the combining
#: grapheme joiner, and letters and symbols drawn as blank space (the Hangul
#: fillers, the blank Braille pattern). With the joiners and marks they are
#: left out when labels are compared.
_BLANK = frozenset("\u034f\u115f\u1160\u3164\uffa0\u2800") | frozenset(
    map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
)
_INVISIBLE = re.compile(f"[{''.join(sorted(_JOINERS_AND_MARKS | _BLANK))}]")
_LINE_BREAKS = frozenset("\n\r\u2028\u2029")


def _text(field: str, value: str, max_length: int, *, multiline: bool = False) -> str:
    """``value`` in NFC and trimmed, once it passes the rules in the module's docstring."""
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise ValidationError(f"{field} must not be empty")
    # Nearly every text is printable; only the others need a closer look.
    if not (text.replace("\n", "").replace("\r", "") if multiline else text).isprintable():
        _refuse_controls(field, text, multiline)
    if not text.isascii() and not any(map(_is_visible, text)):
        raise ValidationError(f"{field} must hold a visible character")
    units = len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2
    if units > max_length:
        how = "" if units == len(text) else " in UTF-16 units (an emoji counts 2 or more)"
        raise ValidationError(
            f"{field} is {units} characters{how}; at most {max_length} are allowed"
        )
    return text


def _refuse_controls(field: str, text: str, multiline: bool) -> None:
    for char in text:
        category = unicodedata.category(char)
        if multiline and char in _LINE_BREAKS:
            continue
        # Cc: controls (NUL, tab, escape…); Cf: format characters (zero-width
        # space, byte-order mark, direction overrides…); Zl, Zp: line breaks.
        if category in ("Cc", "Cs", "Zl", "Zp") or (
            category == "Cf" and char not in _NEEDED_FORMAT
        ):
            raise ValidationError(
                f"{field} must not hold control or format characters (found U+{ord(char):04X})"
            )


def _is_visible(char: str) -> bool:
    """False for spaces, marks, controls and characters drawn as blank space."""
    if char in _BLANK:
        return False
    category = unicodedata.category(char)
    # Private-use and unassigned code points are taken as visible: the latter
    # are most likely emoji newer than this Python's Unicode tables.
    return category[0] not in "ZMC" or category in ("Co", "Cn")


def label_key(label: str) -> str:
    """What two labels that look alike have in common.

    NFKC folds compatibility forms (a fullwidth "Ya" is "Ya"), case folding
    folds case ("STRASSE" is "straße"), invisible characters are left out
    ("Y", zero-width joiner, "a" is "Ya") and runs of spaces are one. WhatsApp
    tells replies apart by their label, so labels with one key are one choice.
    """
    if label.isascii():
        return " ".join(label.lower().split())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", label).casefold())
    return " ".join(_INVISIBLE.sub("", folded).split())


def _labels(buttons: Sequence[str], limits: ButtonLimits) -> tuple[str, ...]:
    if not buttons:
        raise ValidationError("buttons must hold at least one label")
    if len(buttons) > limits.max_buttons:
        raise ValidationError(
            f"buttons holds {len(buttons)} labels; this device's transport "
            f"sends at most {limits.max_buttons}"
        )
    labels: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(buttons):
        label = _text(f"buttons[{index}]", raw, limits.max_label)
        key = label_key(label)
        if key in seen:
            raise ValidationError(f"buttons[{index}] repeats the label {label!r}")
        seen.add(key)
        labels.append(label)
    return tuple(labels)


def find_button(buttons: Sequence[str], choice: str | int) -> tuple[int, str]:
    """Resolve a recipient's choice, by label or by position counted from 1.

    Returns ``(position, label)``; raises ValidationError for a choice the
    message does not offer.
    """
    if isinstance(choice, int):
        if 1 <= choice <= len(buttons):
            return choice, buttons[choice - 1]
        raise ValidationError(f"button must be between 1 and {len(buttons)}, got {choice}")
    wanted = label_key(choice.strip())
    for position, label in enumerate(buttons, start=1):
        if label_key(label) == wanted:
            return position, label
    raise ValidationError(f"button {choice.strip()[:40]!r} is not one of the message's buttons")
