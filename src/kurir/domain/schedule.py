"""When a message is due: the ``schedule`` field, read the way Alat WA clients write it."""

from datetime import datetime, timedelta, tzinfo

from kurir.domain.errors import ValidationError

_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def is_immediate(raw: str | None) -> bool:
    """An absent or empty ``schedule`` means "send now"."""
    return raw is None or not raw.strip()


def parse_schedule(
    raw: str | None,
    *,
    now: datetime,
    timezone: tzinfo,
    horizon: timedelta,
) -> datetime:
    """Return the aware time at which the message is due.

    ``Y-m-d H:i:s`` (PHP's notation) is local time in ``timezone``; ISO 8601
    with an offset is taken as written. Empty or absent means ``now``; a time
    in the past also means now (the sender wanted it out already). A time
    further ahead than ``horizon`` is refused: it is almost always a typo in the
    year, and a message parked for years is a message nobody remembers.
    """
    if raw is None or is_immediate(raw):
        return now
    text = raw.strip()
    due = _parse_local(text, timezone) or _parse_iso(text, timezone)
    if due is None:
        raise ValidationError(
            "schedule must be a date and time as 'Y-m-d H:i:s' "
            f"(for example 2026-12-31 09:30:00) or ISO 8601, got {text[:40]!r}"
        )
    if due > now + horizon:
        raise ValidationError(f"schedule is too far ahead: at most {horizon.days} days from now")
    return max(due, now)


def _parse_local(text: str, timezone: tzinfo) -> datetime | None:
    for fmt in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=timezone)
    return None


def _parse_iso(text: str, timezone: tzinfo) -> datetime | None:
    # A date alone is not a time. Checking for a time part (T or a space) rather
    # than for "+" also accepts a negative offset written after a space.
    if "T" not in text and " " not in text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone)
