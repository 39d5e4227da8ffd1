"""How a button message reads when it goes out as text, and the states a device reports.

On linked devices WhatsApp shows buttons unreliably or not at all, so by
default they go out as a numbered list the recipient answers by number or
label (the store turns such an answer into the button reply).
"""

import enum

from kurir.domain.buttons import ButtonMessage


class DeviceState(enum.StrEnum):
    """What ``/device/list`` shows for a WhatsApp Web device while a worker holds it."""

    #: No linked account, and no pairing under way.
    UNPAIRED = "unpaired"
    #: A QR code or pairing code is waiting for the phone.
    PAIRING = "pairing"
    CONNECTED = "connected"
    #: Linked, but the connection is down: the session is reconnecting or restarting.
    DISCONNECTED = "disconnected"
    #: The phone removed the link (or it was disconnected through Kurir).
    LOGGED_OUT = "logged_out"
    #: A temporary ban; the state names its end.
    BANNED = "banned"
    ERROR = "error"


def banned(until_iso: str, reason: str) -> str:
    return f"{DeviceState.BANNED}: until {until_iso} ({reason})"


def error(detail: str) -> str:
    return f"{DeviceState.ERROR}: {detail}"


def buttons_as_text(message: ButtonMessage) -> str:
    """The message as WhatsApp shows plain text: header bold, options numbered, footer italic."""
    options = "\n".join(f"{number}. {label}" for number, label in enumerate(message.buttons, 1))
    return f"*{message.header}*\n{message.body}\n\n{options}\n\n_{message.footer}_"
