"""Settings, read from ``KURIR_*`` environment variables (``serve`` flags override them)."""

import math
import os
from collections.abc import Mapping
from datetime import timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from kurir.domain.buttons import DEFAULT_REPLY_WINDOW_SECONDS
from kurir.domain.contacts import DEFAULT_OPT_OUT_WORDS, opt_out_words
from kurir.domain.devices import DEVICE_ID_RULE, MAX_DEVICE_ID, is_device_id
from kurir.domain.phone import is_known_region
from kurir.sealing import MIN_KEY_LENGTH


class SettingsError(ValueError):
    """A setting with a value Kurir cannot use; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an operator can set. Field ``x`` is read from ``KURIR_X``."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///data/kurir.db"
    #: Connections per process to PostgreSQL (SQLite uses one writer and four readers).
    database_pool_size: int = 10
    timezone: str = "Asia/Jakarta"
    default_region: str = "ID"
    #: How far ahead a message may be scheduled.
    schedule_horizon_days: int = 365
    #: Request bodies larger than this are refused with 413.
    max_body_bytes: int = 64 * 1024
    #: A request's head (request line and headers) must arrive within this, or
    #: the connection is closed.
    header_timeout_seconds: float = 5.0
    #: Open connections per process; one more is closed as soon as it is accepted.
    max_connections: int = 2000
    #: Request heads larger than this, or with more headers, are refused with 431.
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    #: Accepted sends per second per account in one process; 0 turns the limit off.
    rate_limit_per_second: float = 0.0
    #: How long a verified API key or a device lookup is trusted without asking
    #: the database again: a revoked key or removed device stops working within it.
    auth_cache_seconds: float = 2.0
    #: Whether ``serve`` also runs the dispatcher (``worker`` always does).
    dispatch: bool = True
    message_lease_seconds: float = 60.0
    device_lease_seconds: float = 15.0
    send_timeout_seconds: float = 30.0
    max_attempts: int = 8
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    #: How long after a button message was sent a text that is one of its labels or
    #: numbers counts as pressing that button; 0 turns text replies off.
    reply_window_seconds: float = float(DEFAULT_REPLY_WINDOW_SECONDS)
    #: How long after its event a webhook delivery is retried; an endpoint that
    #: fails every delivery for this long is disabled.
    webhook_deadline_seconds: float = 24 * 3600.0
    #: The first pause after a failed webhook attempt, and the longest; pauses
    #: double in between (with jitter). A receiver that comes back gets its
    #: backlog within the longest pause.
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_seconds: float = 3600.0
    #: Webhook deliveries in flight at once to one endpoint, per worker.
    webhook_concurrency: int = 4
    #: A webhook attempt without a complete answer in this time has failed (the
    #: connection must be made in a third of it, at most 10 s).
    webhook_timeout_seconds: float = 30.0
    #: Lets requests to customers' URLs reach loopback and private addresses (development, tests).
    allow_private_urls: bool = False
    #: Seals devices' secrets (access tokens, app secrets) in the database; at
    #: least 32 characters. Without it they are stored as given.
    secret_key: str = ""
    #: Fixed values for the first start's account, key and device (else random).
    bootstrap_api_key: str = ""
    bootstrap_device_id: str = ""
    bootstrap_device_phone: str = "628122222222"
    log_level: str = "info"
    #: ``text`` (lines for people) or ``json`` (one object a line, for collectors).
    log_format: str = "text"
    #: Where ``/metrics`` is served; 0 (the default) serves none. Never the API's
    #: port: the metrics are for the operator's scraper, not the public.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # -- broadcasts and contacts
    #: The body limit of POST /broadcast/create alone: it carries many receivers, or a file.
    max_broadcast_bytes: int = 20 * 1024 * 1024
    #: Words that, written alone, opt a recipient out of broadcasts (comma-separated).
    opt_out_words: str = DEFAULT_OPT_OUT_WORDS

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    @property
    def schedule_horizon(self) -> timedelta:
        return timedelta(days=self.schedule_horizon_days)


#: Past these a value is a typo, and some would break a request or a worker
#: later (a horizon of 3,000,000 days runs past the year 9999: every scheduled
#: send was a 500; a lease in milliseconds past 2^63 overflows the database).
UPPER_BOUNDS: dict[str, int] = {
    "port": 65535,
    "metrics_port": 65535,
    "database_pool_size": 1000,
    "schedule_horizon_days": 3650,
    "max_body_bytes": 16 * 1024 * 1024,
    "rate_limit_per_second": 1_000_000,
    "auth_cache_seconds": 3600,
    "message_lease_seconds": 86_400,
    "device_lease_seconds": 86_400,
    "send_timeout_seconds": 86_400,
    "max_attempts": 1000,
    "retry_base_seconds": 86_400,
    "retry_max_seconds": 86_400,
    "reply_window_seconds": 30 * 86_400,
    # A month of retries; past it an event is of no use to anyone.
    "webhook_deadline_seconds": 30 * 86_400,
    "webhook_concurrency": 1000,
    "webhook_retry_base_seconds": 86_400,
    "webhook_retry_max_seconds": 86_400,
    # The upper end of what Standard Webhooks advises receivers to answer within, ten times.
    "webhook_timeout_seconds": 300,
    # Beyond these a limit no longer protects anything.
    "header_timeout_seconds": 300,
    "max_connections": 1_000_000,
    "max_header_bytes": 1024 * 1024,
    "max_headers": 10_000,
    # A broadcast's body is held whole in memory while it is checked.
    "max_broadcast_bytes": 256 * 1024 * 1024,
}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment, then ``overrides`` (CLI flags) on top."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        raw = environ.get(f"KURIR_{field.name.upper()}")
        if raw is not None and raw != "":
            values[field.name] = raw
    values.update({name: value for name, value in overrides.items() if value is not None})
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(_name_variable(str(error))) from error
    _check(settings)
    return settings


def _name_variable(error: str) -> str:
    # msgspec says "... - at `$.port`"; operators know the variable, not the field.
    if "`$." in error:
        message, _, path = error.rpartition(" - at `$.")
        return f"KURIR_{path.rstrip('`').upper()}: {message}"
    return error


def _check(settings: Settings) -> None:
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SettingsError(f"KURIR_TIMEZONE: unknown time zone {settings.timezone!r}") from error
    if not is_known_region(settings.default_region):
        raise SettingsError(
            f"KURIR_DEFAULT_REGION: unknown region {settings.default_region!r} (use e.g. ID)"
        )
    if settings.secret_key and len(settings.secret_key) < MIN_KEY_LENGTH:
        # The value itself is never repeated: it is a secret.
        raise SettingsError(
            f"KURIR_SECRET_KEY: must be at least {MIN_KEY_LENGTH} characters "
            "(e.g. the output of: openssl rand -base64 32)"
        )
    if settings.bootstrap_device_id and not is_device_id(settings.bootstrap_device_id):
        raise SettingsError(
            f"KURIR_BOOTSTRAP_DEVICE_ID: must be {DEVICE_ID_RULE}, "
            f"got {settings.bootstrap_device_id[:MAX_DEVICE_ID]!r}"
        )
    positive = {
        "port": settings.port,
        "database_pool_size": settings.database_pool_size,
        "schedule_horizon_days": settings.schedule_horizon_days,
        "max_body_bytes": settings.max_body_bytes,
        "header_timeout_seconds": settings.header_timeout_seconds,
        "max_connections": settings.max_connections,
        "max_header_bytes": settings.max_header_bytes,
        "max_headers": settings.max_headers,
        "max_attempts": settings.max_attempts,
        "message_lease_seconds": settings.message_lease_seconds,
        "device_lease_seconds": settings.device_lease_seconds,
        "send_timeout_seconds": settings.send_timeout_seconds,
        "webhook_deadline_seconds": settings.webhook_deadline_seconds,
        "webhook_concurrency": settings.webhook_concurrency,
        "webhook_timeout_seconds": settings.webhook_timeout_seconds,
        # Zero would retry a failing receiver at once, over and over.
        "webhook_retry_base_seconds": settings.webhook_retry_base_seconds,
        "webhook_retry_max_seconds": settings.webhook_retry_max_seconds,
    }
    # A negative retry delay would retry at once, every time.
    not_negative = {
        "retry_base_seconds": settings.retry_base_seconds,
        "retry_max_seconds": settings.retry_max_seconds,
        "auth_cache_seconds": settings.auth_cache_seconds,
        "rate_limit_per_second": settings.rate_limit_per_second,
        "reply_window_seconds": settings.reply_window_seconds,
    }
    # nan passes every comparison below, and inf breaks int(seconds * 1000).
    for name, value in {**positive, **not_negative}.items():
        if not math.isfinite(value):
            raise SettingsError(f"KURIR_{name.upper()}: must be a number")
    for name, value in positive.items():
        if value <= 0:
            raise SettingsError(f"KURIR_{name.upper()}: must be greater than 0")
    for name, limit in UPPER_BOUNDS.items():
        if getattr(settings, name) > limit:
            raise SettingsError(f"KURIR_{name.upper()}: must be at most {limit}")
    if settings.rate_limit_per_second < 0:
        raise SettingsError("KURIR_RATE_LIMIT_PER_SECOND: must be 0 (off) or more")
    for name, value in not_negative.items():
        if value < 0:
            raise SettingsError(f"KURIR_{name.upper()}: must be 0 or more")
    if settings.log_format not in ("text", "json"):
        raise SettingsError(f"KURIR_LOG_FORMAT: must be text or json, got {settings.log_format!r}")
    if settings.metrics_port < 0:
        raise SettingsError("KURIR_METRICS_PORT: must be 0 (off) or a port")
    if settings.metrics_port and settings.metrics_port == settings.port:
        raise SettingsError("KURIR_METRICS_PORT: must not be the API's port (KURIR_PORT)")
    if settings.max_broadcast_bytes <= 0:
        raise SettingsError("KURIR_MAX_BROADCAST_BYTES: must be greater than 0")
    if not opt_out_words(settings.opt_out_words):
        raise SettingsError("KURIR_OPT_OUT_WORDS: must name at least one word")
