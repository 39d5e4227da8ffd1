"""The rules of a webhook endpoint's fields, and of the times and ids that name its things."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kurir.domain.endpoints import (
    MAX_ENDPOINT_DEVICES,
    check_devices,
    check_events,
    is_delivery_id,
    is_endpoint_id,
    parse_since,
    secret_hint,
)
from kurir.domain.errors import ValidationError
from kurir.domain.events import EVENTS, new_delivery_id, new_endpoint_id

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_events_are_a_non_empty_list_of_known_names_without_repeats() -> None:
    assert check_events(["message.reply", "message.status"]) == ("message.reply", "message.status")
    assert check_events(list(EVENTS)) == EVENTS


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "events must name at least one event: " + ", ".join(EVENTS)),
        (["message.status", "message.sent"], "events[1]: 'message.sent' is not an event; use "),
        (["device.state", "device.state"], "events[1] repeats 'device.state'"),
    ],
)
def test_events_breaking_a_rule_are_refused_naming_the_item(
    events: list[str], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        check_events(events)
    assert caught.value.message.startswith(message)


def test_devices_are_none_for_all_or_a_list_of_device_ids() -> None:
    assert check_devices(None) is None
    assert check_devices(["dev-a", "dev_b"]) == ("dev-a", "dev_b")


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ([], "devices must name at least one device, or be null for all devices"),
        (["dev-a", "dev a"], "devices[1] must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"),
        (["dev-a", "dev-a"], "devices[1] repeats 'dev-a'"),
        (
            [f"d{n}" for n in range(MAX_ENDPOINT_DEVICES + 1)],
            f"devices names {MAX_ENDPOINT_DEVICES + 1} devices; at most {MAX_ENDPOINT_DEVICES}",
        ),
    ],
)
def test_devices_breaking_a_rule_are_refused_naming_the_item(
    devices: list[str], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        check_devices(devices)
    assert caught.value.message.startswith(message)


def test_ids_made_are_ids_recognised_and_nothing_else_is() -> None:
    assert is_endpoint_id(new_endpoint_id())
    assert is_delivery_id(new_delivery_id())
    for value in ("", "wh_", "msg_x", "wh_a/b", "wh_" + "a" * 30, "WH_abc", "wh_a\x00"):
        assert not is_endpoint_id(value), value
    for value in ("", "msg_", "wh_x", "msg_a.b", "msg_" + "a" * 29):
        assert not is_delivery_id(value), value


def test_a_secret_hint_shows_its_prefix_and_four_characters() -> None:
    assert secret_hint("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == "whsec_MfKQ…"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1_767_225_600, datetime(2026, 1, 1, tzinfo=UTC)),
        ("1767225600", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T07:00:00+07:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        # Without an offset: the server's time zone, as schedules are read.
        ("2026-01-01 07:00:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01", datetime(2025, 12, 31, 17, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_since_is_unix_seconds_or_iso_8601(raw: str | int, expected: datetime) -> None:
    assert parse_since(raw, timezone=JAKARTA) == int(expected.timestamp() * 1000)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yesterday", "since must be Unix seconds or an ISO 8601 time"),
        ("-5", "since must be Unix seconds or an ISO 8601 time"),
        ("", "since must be Unix seconds or an ISO 8601 time"),
        ("1" * 5000, "since is too far ahead: at most the year 9999"),
        (253_402_300_800, "since is too far ahead: at most the year 9999"),
    ],
)
def test_since_that_is_no_time_is_refused(raw: str | int, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_since(raw, timezone=JAKARTA)
    assert caught.value.message.startswith(message)
