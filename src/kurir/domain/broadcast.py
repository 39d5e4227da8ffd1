"""Broadcasts: when each message of a campaign is due, and what state a campaign is in.

A broadcast is planned, not looped: each message gets its due time from the
broadcast's start (``date_execute``), a random pause between two messages,
and a daily window in the server's time zone outside which nothing is sent.
The plan is made in batches as the broadcast goes (see `kurir.store.planning`);
the messages not yet planned wait at `HELD_DUE_AT`, past every real time, so
that no worker claims them and the queue's index never reads them.
"""

import enum
import random
import re
from datetime import date, datetime, time, timedelta, tzinfo

import msgspec

from kurir.clock import to_datetime, to_ms
from kurir.domain.errors import ValidationError

#: The due time of a broadcast's message that is not planned yet (9999-12-31 UTC):
#: later than any due time, and still a date in every zone.
HELD_DUE_AT = 253_402_214_400_000
#: The ``last_error`` of a message failed by cancelling its broadcast.
BROADCAST_CANCELLED = "the broadcast was cancelled"
#: The ``last_error`` of a broadcast's message whose recipient opted out.
RECIPIENT_OPTED_OUT = "the recipient opted out of broadcasts"

_DAY_MS = 86_400_000
_CLOCK = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?")
#: The largest pause between two messages: a day.
MAX_INTERVAL_SECONDS = 86_400


class BroadcastState(enum.StrEnum):
    """What the sender asked of a broadcast; the shown state adds what it has done."""

    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class ShownState(enum.StrEnum):
    SCHEDULED = "scheduled"  # active, before date_execute
    RUNNING = "running"  # active, messages waiting
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"  # active, nothing left waiting


def shown_state(state: str, *, waiting: int, now: int, starts_at: int) -> ShownState:
    """The state a sender sees: stored state, and whether anything is left to send."""
    if state == BroadcastState.CANCELLED:
        return ShownState.CANCELLED
    if state == BroadcastState.PAUSED:
        return ShownState.PAUSED
    if waiting == 0:
        return ShownState.COMPLETED
    return ShownState.SCHEDULED if now < starts_at else ShownState.RUNNING


class DailyWindow(msgspec.Struct, frozen=True):
    """Sending happens only while the local time of day is in [start, end), in ms.

    ``start`` greater than ``end`` is a window across midnight (22:00 to 06:00).
    """

    start: int
    end: int

    def is_open_at(self, ms_of_day: int) -> bool:
        if self.start < self.end:
            return self.start <= ms_of_day < self.end
        return ms_of_day >= self.start or ms_of_day < self.end


def clock_text(ms_of_day: int) -> str:
    """A time of day as ``H:i:s`` (24:00:00 for the end of the day)."""
    seconds = ms_of_day // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def parse_window(start: str | None, end: str | None) -> DailyWindow | None:
    """``active_start`` and ``active_end`` (``H:i:s`` or ``H:i``); None when both are absent."""
    start = (start or "").strip()
    end = (end or "").strip()
    if not start and not end:
        return None
    if not (start and end):
        missing = "active_end" if start else "active_start"
        raise ValidationError(f"{missing} is required with a daily window")
    window = DailyWindow(_clock("active_start", start), _clock("active_end", end, end_of_day=True))
    if window.end == _DAY_MS and window.start == 0:
        return None  # the whole day
    if window.start == window.end % _DAY_MS:
        raise ValidationError("active_start and active_end must differ")
    return window


def _clock(field: str, raw: str, *, end_of_day: bool = False) -> int:
    match = _CLOCK.fullmatch(raw.strip())
    if match is None:
        raise ValidationError(f"{field} must be a time as 'H:i:s', got {raw.strip()[:20]!r}")
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    if end_of_day and (hours, minutes, seconds) == (24, 0, 0):
        return _DAY_MS
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValidationError(f"{field} is not a time of day: {raw.strip()[:20]!r}")
    return ((hours * 60 + minutes) * 60 + seconds) * 1000


class Pace(msgspec.Struct, frozen=True):
    """How a broadcast's messages are spread: a random pause, inside a daily window."""

    interval_from_ms: int
    interval_to_ms: int
    window: DailyWindow | None

    def interval(self, rng: random.Random) -> int:
        return rng.randint(self.interval_from_ms, self.interval_to_ms)


def interval_ms(field: str, value: int | float | str | None, default: int) -> int:
    """An interval in seconds (a number, or a number as text in a form) as ms."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default * 1000
    try:
        seconds = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValidationError(f"{field} must be a number of seconds") from None
    # nan fails both comparisons; bool is an int to Python, not a duration to anyone.
    if isinstance(value, bool) or not 0 <= seconds <= MAX_INTERVAL_SECONDS:
        raise ValidationError(f"{field} must be from 0 to {MAX_INTERVAL_SECONDS} seconds")
    return round(seconds * 1000)


def plan_times(
    *,
    earliest: int,
    after: int | None,
    count: int,
    pace: Pace,
    zone: tzinfo,
    rng: random.Random,
) -> list[int]:
    """Due times of the next ``count`` messages, in ms.

    The first is one random pause after ``after`` (the last planned message),
    or at ``earliest`` when nothing was planned, and never before ``earliest``;
    each next one a random pause later. A time outside the window moves to
    the window's next opening, and the pause counts on from there.
    """
    times: list[int] = []
    at = earliest if after is None else max(earliest, after + pace.interval(rng))
    for _ in range(count):
        at = next_open(at, pace.window, zone)
        times.append(at)
        at += pace.interval(rng)
    return times


def next_open(at: int, window: DailyWindow | None, zone: tzinfo) -> int:
    """The first moment from ``at`` inside ``window``, in local time of ``zone``."""
    if window is None:
        return at
    local = to_datetime(at).astimezone(zone)
    if window.is_open_at(_ms_of_day(local)):
        return at
    # The window opens once a local day (twice where the clock is set back
    # over its start); the first opening after ``at`` is today's or a
    # following day's (a day earlier only in a zone's oddities).
    for offset in (-1, 0, 1, 2):
        for opening in _openings(local.date() + timedelta(days=offset), window, zone):
            if opening > at:
                return opening
    raise AssertionError("a daily window opens within two days")  # pragma: no cover


def _ms_of_day(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 + local.microsecond // 1000


def _openings(day: date, window: DailyWindow, zone: tzinfo) -> tuple[int, ...]:
    """When ``window`` opens on local ``day``, in order, a daylight-saving change included.

    Where the clock is set back over the start, its local time comes twice,
    and so does the opening. Where the clock jumps forward over it, the
    window opens at the jump: the first moment whose local time is in it.
    """
    wall = datetime.combine(day, time()) + timedelta(milliseconds=window.start)
    first = to_ms(wall.replace(tzinfo=zone, fold=0))
    second = to_ms(wall.replace(tzinfo=zone, fold=1))
    if first == second:
        return (first,)
    if first < second:  # a time that comes twice
        return first, second
    # In the gap: ``second`` is before the jump, ``first`` after it. Search
    # the millisecond at which the window is open.
    closed, opened = second, first
    while opened - closed > 1:
        middle = (closed + opened) // 2
        if window.is_open_at(_ms_of_day(to_datetime(middle).astimezone(zone))):
            opened = middle
        else:
            closed = middle
    return (opened,)


#: A media broadcast's messages name its stored file by this URL, which no
#: request may give (a URL a client sends must be http or https): the worker
#: reads the file from the database instead of fetching it.
_STORED_MEDIA = re.compile(r"kurir:broadcast/(?P<id>[0-9a-f]{1,32})/media")


def stored_media_url(public_id: str) -> str:
    return f"kurir:broadcast/{public_id}/media"


def stored_media_of(url: str) -> str | None:
    """The broadcast whose stored file ``url`` names, or None for any other URL."""
    found = _STORED_MEDIA.fullmatch(url)
    return found["id"] if found is not None else None
