"""The rules every text a client sends must keep, and how its length is counted.

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

import re
import unicodedata

from kurir.domain.errors import ValidationError

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


def check_text(field: str, value: str, max_length: int, *, multiline: bool = False) -> str:
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
