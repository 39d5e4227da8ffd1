"""The ``schedule`` field: the forms clients write it in, and when the message goes out."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from kurir.config import UPPER_BOUNDS
from tests.e2e.contract import (
    JAKARTA,
    OMIT,
    accepted_id,
    assert_error,
    get_message,
    local_time,
    nothing_stored,
    parse_time,
    send,
    wait_for_status,
)
from tests.support.gateway import running
from tests.support.server import KurirProcess

Format = Callable[[datetime], str]
NOT_A_TIME = (
    "schedule must be a date and time as 'Y-m-d H:i:s' (for example 2026-12-31 09:30:00) "
    "or ISO 8601, got {!r}"
)


def _in_two_hours() -> datetime:
    """A due time far enough ahead to stay scheduled for the test, in whole seconds."""
    return (datetime.now(JAKARTA) + timedelta(hours=2)).replace(microsecond=0)


@pytest.mark.parametrize(
    ("write", "precision"),
    [
        pytest.param(local_time, "seconds", id="Y-m-d H:i:s in Jakarta"),
        pytest.param(
            lambda due: due.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M"),
            "minutes",
            id="Y-m-d H:i",
        ),
        pytest.param(lambda due: f"  {local_time(due)}  ", "seconds", id="surrounded by spaces"),
        pytest.param(lambda due: due.isoformat(), "seconds", id="ISO +07:00"),
        pytest.param(lambda due: due.astimezone(UTC).isoformat(), "seconds", id="ISO +00:00"),
        pytest.param(
            lambda due: due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds", id="ISO Z"
        ),
        pytest.param(
            lambda due: due.astimezone(timezone(timedelta(hours=-5))).isoformat(),
            "seconds",
            id="ISO -05:00",
        ),
        pytest.param(
            lambda due: due.astimezone(JAKARTA).replace(tzinfo=None).isoformat(),
            "seconds",
            id="ISO without offset is Jakarta",
        ),
    ],
)
def test_a_future_schedule_is_kept_in_every_accepted_form(
    shared_server: KurirProcess, http: httpx.Client, write: Format, precision: str
) -> None:
    due = _in_two_hours()
    if precision == "minutes":
        due = due.replace(second=0)
    message_id = accepted_id(send(http, shared_server.device_id, schedule=write(due)))
    data = get_message(http, message_id)
    assert data["status"] == "scheduled"
    assert data["scheduled_for"] == due.astimezone(JAKARTA).isoformat(timespec="milliseconds")
    assert data["attempts"] == 0
    assert list(data["timestamps"]) == ["created"]


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param(OMIT, id="absent"),
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("2020-01-01 00:00:00", id="past, local"),
        pytest.param("2001-09-09T01:46:40Z", id="past, ISO"),
    ],
)
def test_no_schedule_or_one_in_the_past_means_now(
    shared_server: KurirProcess, http: httpx.Client, schedule: object
) -> None:
    message_id = accepted_id(send(http, shared_server.device_id, schedule=schedule))
    data = wait_for_status(http, message_id, "delivered")
    assert data["scheduled_for"] == data["timestamps"]["created"]


def test_the_horizon_is_365_days(shared_server: KurirProcess, http: httpx.Client) -> None:
    now = datetime.now(JAKARTA)
    inside = now + timedelta(days=364)
    message_id = accepted_id(send(http, shared_server.device_id, schedule=local_time(inside)))
    assert get_message(http, message_id)["status"] == "scheduled"
    with nothing_stored(shared_server):
        response = send(
            http, shared_server.device_id, schedule=local_time(now + timedelta(days=366))
        )
    assert_error(response, 422, "schedule is too far ahead: at most 365 days from now")


@pytest.mark.parametrize(
    "schedule",
    [
        "2026-02-30 10:00:00",
        "2027-02-29 10:00:00",
        "2026-13-01 00:00:00",
        "2026-12-31 24:00:00",
        "2026-12-31 23:60:00",
        "31-12-2026 09:30:00",
        "2026/12/31 09:30:00",
        "2026-12-31",
        "tomorrow",
        "2026-02-30T10:00:00+07:00",
        "2026-12-31T09:30:00+25:00",
    ],
)
def test_a_schedule_that_is_not_a_real_time_is_refused(
    shared_server: KurirProcess, http: httpx.Client, schedule: str
) -> None:
    with nothing_stored(shared_server):
        response = send(http, shared_server.device_id, schedule=schedule)
    assert_error(response, 422, NOT_A_TIME.format(schedule))


def test_a_schedule_years_ahead_is_refused(shared_server: KurirProcess, http: httpx.Client) -> None:
    with nothing_stored(shared_server):
        response = send(http, shared_server.device_id, schedule="9999-12-31 23:59:59")
    assert_error(response, 422, "schedule is too far ahead: at most 365 days from now")


def test_a_scheduled_message_goes_out_within_a_second_of_its_time(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    due = datetime.now(JAKARTA) + timedelta(seconds=1.2)
    schedule = due.isoformat(timespec="milliseconds")
    message_id = accepted_id(send(http, shared_server.device_id, schedule=schedule))
    assert get_message(http, message_id)["status"] == "scheduled"
    data = wait_for_status(http, message_id, "delivered", timeout=4.0)
    scheduled_for = parse_time(data["scheduled_for"])
    assert scheduled_for == due.replace(microsecond=due.microsecond // 1000 * 1000)
    sent = parse_time(data["timestamps"]["sent"])
    assert scheduled_for <= parse_time(data["timestamps"]["sending"]) <= sent
    assert sent - scheduled_for < timedelta(seconds=1)


def test_a_send_at_the_longest_horizon_the_settings_allow_is_kept(
    database_url: str, tmp_path: Path
) -> None:
    days = UPPER_BOUNDS["schedule_horizon_days"]
    with (
        running(database_url, tmp_path, KURIR_SCHEDULE_HORIZON_DAYS=str(days)) as server,
        server.client() as http,
    ):
        last = (datetime.now(JAKARTA) + timedelta(days=days, minutes=-1)).replace(microsecond=0)
        message_id = accepted_id(send(http, server.device_id, schedule=local_time(last)))
        data = get_message(http, message_id)
        assert (data["status"], parse_time(data["scheduled_for"])) == ("scheduled", last)
        beyond = local_time(last + timedelta(minutes=2))
        assert_error(
            send(http, server.device_id, schedule=beyond),
            422,
            f"schedule is too far ahead: at most {days} days from now",
        )
