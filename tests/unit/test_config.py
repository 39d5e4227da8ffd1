"""Settings from an explicit environment: defaults, conversions, and errors naming the variable."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from kurir.config import UPPER_BOUNDS, Settings, SettingsError, load_settings


def test_defaults_without_any_variable() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.database_url == "sqlite:///data/kurir.db"
    assert settings.zone == ZoneInfo("Asia/Jakarta")
    assert settings.default_region == "ID"
    assert settings.schedule_horizon == timedelta(days=365)
    assert settings.max_body_bytes == 64 * 1024
    assert settings.header_timeout_seconds == 5.0
    assert settings.max_connections == 2000
    assert settings.max_header_bytes == 16 * 1024
    assert settings.max_headers == 100
    assert settings.webhook_deadline_seconds == 24 * 3600
    assert settings.webhook_concurrency == 4
    assert settings.webhook_timeout_seconds == 30
    assert (settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds) == (5, 3600)
    assert settings.metrics_port == 0  # no metrics unless asked for
    assert settings.log_format == "text"


def test_reads_kurir_variables_and_converts_them() -> None:
    settings = load_settings(
        {
            "KURIR_PORT": "9090",
            "KURIR_DATABASE_URL": "postgresql://kurir@db/kurir",
            "KURIR_TIMEZONE": "Asia/Makassar",
            "KURIR_DEFAULT_REGION": "MY",
            "KURIR_DISPATCH": "false",
            "KURIR_MESSAGE_LEASE_SECONDS": "1.5",
            "KURIR_MAX_ATTEMPTS": "3",
            "KURIR_SCHEDULE_HORIZON_DAYS": "30",
            "PORT": "1",  # not Kurir's
            "KURIR_UNKNOWN": "ignored",
        }
    )
    assert settings.port == 9090
    assert settings.database_url == "postgresql://kurir@db/kurir"
    assert settings.zone == ZoneInfo("Asia/Makassar")
    assert settings.default_region == "MY"
    assert settings.dispatch is False
    assert settings.message_lease_seconds == 1.5
    assert settings.max_attempts == 3
    assert settings.schedule_horizon == timedelta(days=30)


def test_an_empty_variable_means_the_default() -> None:
    assert load_settings({"KURIR_PORT": "", "KURIR_TIMEZONE": ""}) == Settings()


def test_overrides_win_and_none_means_not_given() -> None:
    settings = load_settings({"KURIR_PORT": "9090", "KURIR_HOST": "0.0.0.0"}, port=7070, host=None)
    assert settings.port == 7070
    assert settings.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("KURIR_PORT", "abc", "Expected `int`, got `str`"),
        ("KURIR_PORT", "0", "must be greater than 0"),
        ("KURIR_PORT", "70000", "must be at most 65535"),
        ("KURIR_MAX_ATTEMPTS", "1.5", "Expected `int`, got `str`"),
        ("KURIR_MAX_ATTEMPTS", "0", "must be greater than 0"),
        ("KURIR_DISPATCH", "maybe", "Expected `bool`, got `str`"),
        ("KURIR_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("KURIR_TIMEZONE", "../etc", "unknown time zone '../etc'"),
        ("KURIR_DEFAULT_REGION", "XX", "unknown region 'XX' (use e.g. ID)"),
        ("KURIR_SCHEDULE_HORIZON_DAYS", "0", "must be greater than 0"),
        ("KURIR_MAX_BODY_BYTES", "-1", "must be greater than 0"),
        ("KURIR_MESSAGE_LEASE_SECONDS", "0", "must be greater than 0"),
        ("KURIR_DEVICE_LEASE_SECONDS", "-2", "must be greater than 0"),
        ("KURIR_SEND_TIMEOUT_SECONDS", "0", "must be greater than 0"),
        ("KURIR_RATE_LIMIT_PER_SECOND", "-1", "must be 0 (off) or more"),
        ("KURIR_HEADER_TIMEOUT_SECONDS", "0", "must be greater than 0"),
        ("KURIR_HEADER_TIMEOUT_SECONDS", "301", "must be at most 300"),
        ("KURIR_HEADER_TIMEOUT_SECONDS", "inf", "must be a number"),
        ("KURIR_MAX_CONNECTIONS", "0", "must be greater than 0"),
        ("KURIR_MAX_CONNECTIONS", "1000001", "must be at most 1000000"),
        ("KURIR_MAX_HEADER_BYTES", "-1", "must be greater than 0"),
        ("KURIR_MAX_HEADER_BYTES", "1048577", "must be at most 1048576"),
        ("KURIR_MAX_HEADERS", "0", "must be greater than 0"),
        ("KURIR_MAX_HEADERS", "10001", "must be at most 10000"),
        # Not a number at all: nan slips through "<= 0" and inf through int().
        ("KURIR_MESSAGE_LEASE_SECONDS", "nan", "must be a number"),
        ("KURIR_DEVICE_LEASE_SECONDS", "inf", "must be a number"),
        # A negative delay would retry at once, every time.
        ("KURIR_RETRY_BASE_SECONDS", "-1", "must be 0 or more"),
        ("KURIR_RETRY_MAX_SECONDS", "-1", "must be 0 or more"),
        ("KURIR_AUTH_CACHE_SECONDS", "-1", "must be 0 or more"),
        ("KURIR_REPLY_WINDOW_SECONDS", "-1", "must be 0 or more"),
        ("KURIR_REPLY_WINDOW_SECONDS", "nan", "must be a number"),
        ("KURIR_WEBHOOK_DEADLINE_SECONDS", "0", "must be greater than 0"),
        ("KURIR_WEBHOOK_CONCURRENCY", "0", "must be greater than 0"),
        ("KURIR_WEBHOOK_TIMEOUT_SECONDS", "nan", "must be a number"),
        ("KURIR_WEBHOOK_RETRY_BASE_SECONDS", "0", "must be greater than 0"),
        ("KURIR_WEBHOOK_RETRY_MAX_SECONDS", "inf", "must be a number"),
        ("KURIR_LOG_FORMAT", "xml", "must be text or json, got 'xml'"),
        ("KURIR_METRICS_PORT", "-1", "must be 0 (off) or a port"),
        ("KURIR_METRICS_PORT", "8080", "must not be the API's port (KURIR_PORT)"),
        (
            "KURIR_BOOTSTRAP_DEVICE_ID",
            "s/x",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got 's/x'",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert str(caught.value) == f"{variable}: {problem}"


@pytest.mark.parametrize(("name", "limit"), sorted(UPPER_BOUNDS.items()))
def test_every_number_has_an_upper_bound_it_may_reach(name: str, limit: float) -> None:
    variable = f"KURIR_{name.upper()}"
    typed = type(getattr(Settings(), name))
    assert getattr(load_settings({variable: str(typed(limit))}), name) == limit
    over = typed(limit + 1) if typed is int else limit * 1.5
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: str(over)})
    assert str(caught.value) == f"{variable}: must be at most {limit}"


def test_every_numeric_setting_has_an_upper_bound() -> None:
    numeric = {
        field.name for field in msgspec.structs.fields(Settings) if field.type in (int, float)
    }
    assert numeric == set(UPPER_BOUNDS)


def test_a_horizon_of_three_million_days_is_refused_at_start() -> None:
    """It was accepted, and then every scheduled send was a 500 (past the year 9999)."""
    with pytest.raises(SettingsError) as caught:
        load_settings({}, schedule_horizon_days="3000000")
    assert str(caught.value) == "KURIR_SCHEDULE_HORIZON_DAYS: must be at most 3650"
