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


#: Control and format characters (Unicode's Cc and Cf), surrogates and the
#: line and paragraph separators, which text may not hold, but for the format
#: characters text needs: the joiners of emoji sequences and of Indic and
#: Persian words (U+200C, U+200D), the direction marks of right-to-left text
#: (U+200E, U+200F, U+061C), and the tags that make a flag of England or
#: Scotland out of a black flag (U+E0020 to U+E007F). Written out rather than
#: found in unicodedata at import, which takes a tenth of a second; a unit
#: test holds the list to this Python's Unicode tables.
_CONTROLS_BUT_LINE_BREAKS = r"\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f"
_OTHER_REFUSED = (
    r"\xad\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    r"\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
)
_REFUSED = re.compile(rf"[{_CONTROLS_BUT_LINE_BREAKS}{_OTHER_REFUSED}\n\r\u2028\u2029]")
#: The body may hold line breaks.
_REFUSED_IN_BODY = re.compile(rf"[{_CONTROLS_BUT_LINE_BREAKS}{_OTHER_REFUSED}]")
#: Characters that show nothing, left out when labels are compared with the
#: joiners and marks above: variation selectors, the combining grapheme
#: joiner, and letters and symbols drawn as blank space (the Hangul fillers,
#: the blank Braille pattern).
_BLANK = frozenset("\u034f\u115f\u1160\u3164\uffa0\u2800") | frozenset(
    map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
)
_INVISIBLE = re.compile(f"[\u200c-\u200f\u061c{''.join(sorted(_BLANK))}]")


def _text(field: str, value: str, max_length: int, *, multiline: bool = False) -> str:
    """``value`` in NFC and trimmed, once it passes the rules in the module's docstring."""
    text = value.strip()
    if not text:
        raise ValidationError(f"{field} must not be empty")
    # Nearly every text is printable (no controls, no spaces but " "); only
    # the others need searching.
    if not text.isprintable():
        found = (_REFUSED_IN_BODY if multiline else _REFUSED).search(text)
        if found is not None:
            raise ValidationError(
                f"{field} must not hold control or format characters (found U+{ord(found[0]):04X})"
            )
    units = len(text)
    if not text.isascii():  # ASCII text is in NFC, visible once trimmed, a unit a character
        text = unicodedata.normalize("NFC", text)
        if not any(map(_is_visible, text)):
            raise ValidationError(f"{field} must hold a visible character")
        units = len(text.encode("utf-16-le")) // 2
    if units > max_length:
        how = "" if units == len(text) else " in UTF-16 units (an emoji counts 2 or more)"
        raise ValidationError(
            f"{field} is {units} characters{how}; at most {max_length} are allowed"
        )
    return text


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
    if label.isascii():  # the common case, where folding is lower-casing
        key = label.lower()
        return key if "  " not in key else " ".join(key.split())
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
