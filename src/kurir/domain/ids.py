"""Message ids in the form WhatsApp Web clients give their own messages.

``3EB0`` followed by 16 upper-case hex digits is what the Alat WA API returns,
and what a WhatsApp Web transport sends as the message's own id, which lets the
network itself drop a resend of the same message after a crash.
"""

import itertools
import os
import re
import secrets
import time

_MESSAGE_ID = re.compile(r"3EB0[0-9A-F]{16}")
_SEQUENCE_BITS = 20
_SEQUENCE_MASK = (1 << _SEQUENCE_BITS) - 1


def _new_sequence() -> "itertools.count[int]":
    return itertools.count(secrets.randbits(_SEQUENCE_BITS))


_sequence = _new_sequence()


def _reseed_after_fork() -> None:
    global _sequence  # a forked child must not repeat its parent's ids
    _sequence = _new_sequence()


os.register_at_fork(after_in_child=_reseed_after_fork)


def new_message_id() -> str:
    """A fresh message id: the time in milliseconds (44 bits), then a 20-bit sequence.

    Time first, so ids made together sort together: each accepted batch adds
    to the end of the message id index, one or two pages written per commit,
    where random ids wrote a page per message (twice the bytes per commit).
    The sequence counts on from a random start, so one process never repeats
    an id, and two processes meet in the same millisecond with the same
    number only by chance (about 2^-20 per pair of ids); the unique index
    catches that, and the store gives the message a new id.
    """
    stamp = time.time_ns() // 1_000_000
    return f"3EB0{stamp << _SEQUENCE_BITS | next(_sequence) & _SEQUENCE_MASK:016X}"


def is_message_id(value: str) -> bool:
    """True when ``value`` has the shape of a message id."""
    return _MESSAGE_ID.fullmatch(value) is not None


def inbound_media_path(message_id: str) -> str:
    """Where an inbound message's kept file is served: a path of Kurir's API, under its key.

    A path, not a URL: the application already knows the address it calls
    Kurir at, which Kurir itself cannot (proxies, several API processes).
    """
    return f"/messages/inbound/{message_id}/media"
