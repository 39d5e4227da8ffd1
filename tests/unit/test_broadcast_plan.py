"""A broadcast's plan: due times inside the daily window, across midnight and DST changes."""

import itertools
import random
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kurir.clock import to_datetime, to_ms
from kurir.domain.broadcast import (
    HELD_DUE_AT,
    DailyWindow,
    Pace,
    ShownState,
    clock_text,
    interval_ms,
    next_open,
    parse_window,
    plan_times,
    shown_state,
)
from kurir.domain.errors import ValidationError

JAKARTA = ZoneInfo("Asia/Jakarta")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000


def ms(zone: ZoneInfo, *fields: int) -> int:
    """Local time in ``zone`` (year, month, day, hour, minute, second) as ms."""
    year, month, day, hour, minute, second = fields
    return to_ms(datetime(year, month, day, hour, minute, second, tzinfo=zone))


def local(zone: tzinfo, at: int) -> str:
    return to_datetime(at).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S%z")


def window(start: str, end: str) -> DailyWindow:
    found = parse_window(start, end)
    assert found is not None
    return found


def fixed(seconds: int, found: DailyWindow | None = None) -> Pace:
    return Pace(interval_from_ms=seconds * 1000, interval_to_ms=seconds * 1000, window=found)


def plan(start: int, count: int, pace: Pace, zone: ZoneInfo = JAKARTA) -> list[int]:
    return plan_times(
        earliest=start, after=None, count=count, pace=pace, zone=zone, rng=random.Random(1)
    )


def test_without_a_window_the_messages_are_an_interval_apart() -> None:
    start = ms(JAKARTA, 2026, 5, 4, 9, 0, 0)
    assert plan(start, 3, fixed(10)) == [start, start + 10_000, start + 20_000]


def test_a_plan_goes_on_a_pause_after_the_last_planned_and_never_before_earliest() -> None:
    start = ms(JAKARTA, 2026, 5, 4, 9, 0, 0)
    pace = fixed(10)
    rng = random.Random()

    def first(after: int) -> int:
        times = plan_times(earliest=start, after=after, count=1, pace=pace, zone=JAKARTA, rng=rng)
        return times[0]

    assert first(start - 3000) == start + 7000
    assert first(start - 60_000) == start


def test_a_message_after_the_window_waits_for_the_next_days_opening() -> None:
    pace = fixed(3600, window("09:00:00", "17:00:00"))
    times = plan(ms(JAKARTA, 2026, 5, 4, 15, 30, 0), 3, pace)
    assert [local(JAKARTA, t) for t in times] == [
        "2026-05-04 15:30:00+0700",
        "2026-05-04 16:30:00+0700",
        "2026-05-05 09:00:00+0700",  # 17:30 is closed
    ]
    # Before the opening: at the opening.
    assert local(JAKARTA, plan(ms(JAKARTA, 2026, 5, 4, 6, 0, 0), 1, pace)[0]) == (
        "2026-05-04 09:00:00+0700"
    )


def test_a_window_across_midnight() -> None:
    pace = fixed(1800, window("22:00", "01:00"))
    times = plan(ms(JAKARTA, 2026, 5, 4, 12, 0, 0), 5, pace)
    assert [local(JAKARTA, t) for t in times] == [
        "2026-05-04 22:00:00+0700",
        "2026-05-04 22:30:00+0700",
        "2026-05-04 23:00:00+0700",
        "2026-05-04 23:30:00+0700",
        "2026-05-05 00:00:00+0700",
    ]
    assert local(JAKARTA, plan(ms(JAKARTA, 2026, 5, 5, 0, 45, 0), 2, pace)[1]) == (
        "2026-05-05 22:00:00+0700"
    )


def test_a_window_whose_start_the_clock_jumps_over_opens_at_the_jump() -> None:
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 never comes.
    pace = fixed(600, window("02:30", "05:00"))
    times = plan(ms(BERLIN, 2026, 3, 29, 0, 0, 0), 2, pace, BERLIN)
    assert [local(BERLIN, t) for t in times] == [
        "2026-03-29 03:00:00+0200",
        "2026-03-29 03:10:00+0200",
    ]


def test_a_window_whose_hour_comes_twice_opens_twice() -> None:
    # Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 comes twice.
    pace = fixed(600, window("02:30", "02:45"))
    times = plan(ms(BERLIN, 2026, 10, 25, 0, 0, 0), 4, pace, BERLIN)
    assert [local(BERLIN, t) for t in times] == [
        "2026-10-25 02:30:00+0200",
        "2026-10-25 02:40:00+0200",
        "2026-10-25 02:30:00+0100",
        "2026-10-25 02:40:00+0100",
    ]


def test_a_daily_window_keeps_its_local_hours_across_a_dst_change() -> None:
    pace = fixed(3600 * 20, window("09:00", "10:00"))
    times = plan(ms(BERLIN, 2026, 3, 28, 9, 0, 0), 3, pace, BERLIN)
    assert [local(BERLIN, t) for t in times] == [
        "2026-03-28 09:00:00+0100",
        "2026-03-29 09:00:00+0200",  # a day later by the clock, 23 hours by UTC
        "2026-03-30 09:00:00+0200",
    ]


zones = st.sampled_from(
    [JAKARTA, BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), UTC]
)
clock = st.integers(0, 86_399).map(lambda s: s * 1000)


@settings(max_examples=300)
@given(
    zone=zones,
    start_clock=clock,
    end_clock=clock,
    earliest=st.integers(ms(JAKARTA, 2026, 1, 1, 0, 0, 0), ms(JAKARTA, 2027, 1, 1, 0, 0, 0)),
    low=st.integers(0, 4 * HOUR),
    spread=st.integers(0, 2 * HOUR),
    seed=st.integers(0, 2**32),
)
def test_every_planned_time_is_inside_the_window_and_paced(
    zone: tzinfo,
    start_clock: int,
    end_clock: int,
    earliest: int,
    low: int,
    spread: int,
    seed: int,
) -> None:
    if start_clock == end_clock:
        return
    found = DailyWindow(start_clock, end_clock)
    pace = Pace(interval_from_ms=low, interval_to_ms=low + spread, window=found)
    times = plan_times(
        earliest=earliest, after=None, count=20, pace=pace, zone=zone, rng=random.Random(seed)
    )

    def is_open(at: int) -> bool:
        moment = to_datetime(at).astimezone(zone)
        return found.is_open_at(
            ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000
            + moment.microsecond // 1000
        )

    assert times[0] >= earliest
    for before, after in itertools.pairwise(times):
        assert after - before >= low
        if after - before > low + spread:
            assert not is_open(after - 1), "moved, yet not to an opening"
    for at in times:
        assert is_open(at), local(zone, at)
    # The first is at the earliest moment that is open.
    if times[0] > earliest:
        assert not is_open(times[0] - 1)
        assert next_open(earliest, found, zone) == times[0]


# -- fields ---------------------------------------------------------------------------------------


def test_windows_as_written() -> None:
    assert parse_window(None, None) is None
    assert parse_window("", " ") is None
    assert parse_window("00:00", "24:00:00") is None  # the whole day
    assert parse_window("9:00", "17:30:15") == DailyWindow(9 * HOUR, 17 * HOUR + 1_815_000)
    assert clock_text(17 * HOUR + 1_815_000) == "17:30:15"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("09:00", None, "active_end is required with a daily window"),
        ("", "17:00", "active_start is required with a daily window"),
        ("9am", "17:00", "active_start must be a time as 'H:i:s', got '9am'"),
        ("09:00", "25:00", "active_end is not a time of day: '25:00'"),
        ("09:00", "09:00:00", "active_start and active_end must differ"),
        ("24:00", "09:00", "active_start is not a time of day: '24:00'"),
    ],
)
def test_a_bad_window_is_refused(start: str, end: str | None, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_window(start, end)
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 5000), ("", 5000), (0, 0), (7, 7000), (0.5, 500), (" 12 ", 12000), (86400, 86_400_000)],
)
def test_intervals_in_seconds(value: int | float | str | None, expected: int) -> None:
    assert interval_ms("interval_from", value, 5) == expected


@pytest.mark.parametrize("value", [-1, 86401, "soon", True, float("nan"), float("inf")])
def test_a_bad_interval_is_refused(value: int | float | str) -> None:
    with pytest.raises(ValidationError, match="interval_from must be"):
        interval_ms("interval_from", value, 5)


def test_the_state_shown() -> None:
    now = ms(JAKARTA, 2026, 5, 4, 9, 0, 0)
    later = now + HOUR
    assert shown_state("active", waiting=3, now=now, starts_at=later) == ShownState.SCHEDULED
    assert shown_state("active", waiting=3, now=later, starts_at=later) == ShownState.RUNNING
    assert shown_state("active", waiting=0, now=now, starts_at=later) == ShownState.COMPLETED
    assert shown_state("paused", waiting=3, now=now, starts_at=now) == ShownState.PAUSED
    assert shown_state("cancelled", waiting=0, now=now, starts_at=now) == ShownState.CANCELLED


def test_a_held_message_is_later_than_any_plan_and_still_a_date_everywhere() -> None:
    assert to_datetime(HELD_DUE_AT).astimezone(ZoneInfo("Pacific/Kiritimati")).year == 9999
    assert to_datetime(HELD_DUE_AT) - datetime.now(UTC) > timedelta(days=365 * 7000)
