"""A button message: its parts, the limits a transport can carry, and its layout.

WhatsApp offers at most three reply buttons; more choices (up to ten) go in a
list message. Which limits apply belongs to the device's transport, so the
request is checked against them when it is accepted, not when it fails later.

Texts follow `kurir.domain.text`; lengths are in UTF-16 code units.
"""

import enum
from collections.abc import Sequence

import msgspec

from kurir.domain.errors import ValidationError
from kurir.domain.text import check_text, label_key


class ButtonLayout(enum.StrEnum):
    """How the choices reach the recipient."""

    REPLY_BUTTONS = "reply_buttons"
    LIST = "list"


class ButtonLimits(msgspec.Struct, frozen=True):
    """What one transport can carry in one interactive message; the defaults are WhatsApp's.

    Lengths are in UTF-16 code units, as `kurir.domain.text` explains.
    """

    max_reply_buttons: int = 3
    max_buttons: int = 10
    max_label: int = 20
    max_header: int = 60
    max_body: int = 1024
    max_footer: int = 60


class ButtonMessage(msgspec.Struct, frozen=True, tag="button", tag_field="type"):
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
        header=check_text("message_header", header, limits.max_header),
        body=check_text("message", body, limits.max_body, multiline=True),
        footer=check_text("message_footer", footer, limits.max_footer),
        buttons=_labels(buttons, limits),
    )
    return message


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
        label = check_text(f"buttons[{index}]", raw, limits.max_label)
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


#: How long after a button message was sent a text may still answer it (24 hours,
#: WhatsApp's own window for answering a customer), unless configured otherwise.
DEFAULT_REPLY_WINDOW_SECONDS = 24 * 3600

#: A number written as a reply is a position; no message has a button past this.
_MAX_POSITION_DIGITS = 9


def button_answered_by(buttons: Sequence[str], text: str) -> tuple[int, str] | None:
    """The button a recipient's text reply stands for, as ``(position, label)``; or None.

    A text answers a button when it is the button's label (compared as
    `find_button` compares labels) or its position written in ASCII digits
    ("2"). A label wins over a position, for labels that are numbers.
    """
    try:
        return find_button(buttons, text)
    except ValidationError:
        pass
    number = text.strip()
    if number.isascii() and number.isdigit() and len(number) <= _MAX_POSITION_DIGITS:
        try:
            return find_button(buttons, int(number))
        except ValidationError:
            return None
    return None
