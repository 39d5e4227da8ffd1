"""The schedule field, read against a fixed "now" in Jakarta."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from kurir.config import UPPER_BOUNDS
from kurir.domain.errors import ValidationError
from kurir.domain.schedule import parse_schedule

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 3, 1, 9, 0, 0, tzinfo=JAKARTA)
HORIZON = timedelta(days=365)


def parse(raw: str | None, *, horizon: timedelta = HORIZON) -> datetime:
    return parse_schedule(raw, now=NOW, timezone=JAKARTA, horizon=horizon)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Absent or blank: now.
        (None, NOW),
        ("", NOW),
        ("   ", NOW),
        # PHP's Y-m-d H:i:s, and without seconds, in the configured zone.
        ("2026-03-01 10:00:00", datetime(2026, 3, 1, 10, tzinfo=JAKARTA)),
        (" 2026-03-01 10:00:00 ", datetime(2026, 3, 1, 10, tzinfo=JAKARTA)),
        ("2026-03-01 10:30", datetime(2026, 3, 1, 10, 30, tzinfo=JAKARTA)),
        # ISO 8601 with an offset is taken as written.
        ("2026-03-01T10:00:00+07:00", datetime(2026, 3, 1, 10, tzinfo=JAKARTA)),
        ("2026-03-01T10:00:00.250+07:00", datetime(2026, 3, 1, 10, 0, 0, 250_000, tzinfo=JAKARTA)),
        ("2026-03-01T03:00:00Z", datetime(2026, 3, 1, 3, tzinfo=UTC)),
        ("2026-03-01 10:00:00+07:00", datetime(2026, 3, 1, 10, tzinfo=JAKARTA)),
        (
            "2026-03-01T10:00:00-05:00",
            datetime(2026, 3, 1, 10, tzinfo=timezone(timedelta(hours=-5))),
        ),
        # A negative offset with a space reads like the positive one above.
        (
            "2026-03-01 10:00:00-05:00",
            datetime(2026, 3, 1, 10, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("20260301T100000+0700", datetime(2026, 3, 1, 10, tzinfo=JAKARTA)),
        # ISO without an offset is local time, as Y-m-d H:i:s is.
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=JAKARTA)),
        # Exactly at the horizon is still allowed.
        ("2027-03-01 09:00:00", datetime(2027, 3, 1, 9, tzinfo=JAKARTA)),
    ],
)
def test_reads_the_time_a_message_is_due(raw: str | None, expected: datetime) -> None:
    due = parse(raw)
    assert due == expected
    assert due.tzinfo is not None


@pytest.mark.parametrize(
    "raw",
    [
        "2025-01-01 00:00:00",
        "2026-03-01 08:59:59",
        "2026-03-01T01:59:59Z",  # 08:59:59 in Jakarta
        "1970-01-01T00:00:00+00:00",
    ],
)
def test_a_time_in_the_past_means_now(raw: str) -> None:
    assert parse(raw) == NOW


@pytest.mark.parametrize(
    "raw",
    [
        "2026-02-30 10:00:00",  # no such day
        "2026-02-30T10:00:00+07:00",
        "2026-03-01 25:00:00",  # no such hour
        "2026-13-01 10:00:00",
        "2026-03-01 10:00:00+25:00",  # no such offset
        "2026-03-01",  # a date is not a time
        "tomorrow",
        "1/3/2026 10:00",
        "2026-03-01 10:00:00 WIB",
    ],
)
def test_refuses_what_is_not_a_real_date_and_time(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(raw)
    assert caught.value.message == (
        "schedule must be a date and time as 'Y-m-d H:i:s' "
        f"(for example 2026-12-31 09:30:00) or ISO 8601, got {raw!r}"
    )


@pytest.mark.parametrize(
    ("raw", "horizon", "days"),
    [
        ("2027-03-01 09:00:01", HORIZON, 365),
        ("2126-03-01 09:00:00", HORIZON, 365),
        ("2026-03-08T02:00:01Z", timedelta(days=7), 7),  # 09:00:01 in Jakarta
    ],
)
def test_refuses_a_time_beyond_the_horizon(raw: str, horizon: timedelta, days: int) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(raw, horizon=horizon)
    assert caught.value.message == f"schedule is too far ahead: at most {days} days from now"


def test_error_quotes_at_most_40_characters() -> None:
    with pytest.raises(ValidationError) as caught:
        parse("y" * 100)
    assert caught.value.message.endswith(f"got {'y' * 40!r}")


def test_the_longest_horizon_the_settings_allow_works() -> None:
    horizon = timedelta(days=UPPER_BOUNDS["schedule_horizon_days"])
    last = NOW + horizon
    assert parse(last.strftime("%Y-%m-%d %H:%M:%S"), horizon=horizon) == last
    with pytest.raises(ValidationError):
        parse((last + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"), horizon=horizon)
