"""Message ids in the form WhatsApp Web clients give their own messages.

``3EB0`` followed by 16 upper-case hex digits is what the Alat WA API returns,
and what a WhatsApp Web transport sends as the message's own id, which lets the
network itself drop a resend of the same message after a crash.
"""

import re
import secrets

_MESSAGE_ID = re.compile(r"3EB0[0-9A-F]{16}")


def new_message_id() -> str:
    """A fresh random message id: 64 random bits, so collisions are negligible."""
    return "3EB0" + secrets.token_hex(8).upper()


def is_message_id(value: str) -> bool:
    """True when ``value`` has the shape of a message id."""
    return _MESSAGE_ID.fullmatch(value) is not None
