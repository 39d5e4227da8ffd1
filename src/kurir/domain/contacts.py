"""Contacts: the fields a broadcast's placeholders read, and who asked to hear no more.

A recipient who answers a broadcast with a stop word (``STOP`` by default)
is opted out and never gets a broadcast again. WhatsApp bans numbers whose
recipients block or report them; honouring a stop at once keeps a business's
number alive, and is what the recipient asked for.
"""

import re
import unicodedata

from kurir.domain.errors import ValidationError
from kurir.domain.text import check_text

#: The words that opt a recipient out, unless KURIR_OPT_OUT_WORDS says others.
DEFAULT_OPT_OUT_WORDS = "STOP,BERHENTI,UNSUBSCRIBE"
MAX_NAME = 100
MAX_OPTION = 255
MAX_GROUP = 100
#: What may follow a stop word and still be only the word: "STOP!", "stop."
_TRAILING = re.compile(r"[\s.!,;:?]+$")


def opt_out_words(setting: str) -> frozenset[str]:
    """The comma-separated stop words of a setting, as `is_opt_out` compares them."""
    return frozenset(_folded(word) for word in setting.split(",") if word.strip())


def is_opt_out(text: str | None, words: frozenset[str]) -> bool:
    """True when ``text`` is a stop word alone (any case, trailing punctuation ignored).

    Only the word alone: "stop sending me the old price" is a conversation,
    not a request to hear nothing more.
    """
    if not text or len(text) > 64:
        return False
    return _folded(_TRAILING.sub("", text)) in words


def _folded(word: str) -> str:
    return unicodedata.normalize("NFKC", word.strip()).casefold()


def yes_no(field: str, value: str | bool | None, *, default: bool) -> bool:
    """Alat WA's ``yes``/``no`` flags; true/false, 1/0 and JSON booleans too."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if not text:
        return default
    if text in ("yes", "true", "1", "y"):
        return True
    if text in ("no", "false", "0", "n"):
        return False
    raise ValidationError(f"{field} must be yes or no, got {value.strip()[:20]!r}")


def contact_text(field: str, value: str | None, max_length: int) -> str:
    """An optional one-line contact field; absent or blank is empty."""
    if value is None or not value.strip():
        return ""
    return check_text(field, value, max_length)


def group_name(value: str | None) -> str:
    """A contact group's name; absent or blank is no group (empty)."""
    return contact_text("group", value, MAX_GROUP)
