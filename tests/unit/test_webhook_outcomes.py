"""What an attempt means for its webhook delivery: delivered, tried again when, or dead, and why."""

import pytest

from kurir.config import load_settings
from kurir.domain.events import DeliveryStatus
from kurir.domain.retry import DeliveryRetryPolicy
from kurir.domain.webhook_outcomes import NextState, Verdict, after_attempt, duration
from kurir.server import delivery_settings

EVENT_AT = 1_700_000_000_000
HOUR_MS = 3600 * 1000
POLICY = DeliveryRetryPolicy()  # its own deadline is a day: each delivery's counts instead


def after(
    verdict: Verdict, *, answered_at: int, retry_after: float | None = None, attempts: int = 1
) -> NextState:
    return after_attempt(
        verdict,
        attempts=attempts,
        event_at=EVENT_AT,
        deadline_at=EVENT_AT + HOUR_MS,
        answered_at=answered_at,
        error="answered 503",
        retry_after_seconds=retry_after,
        policy=POLICY,
    )


def test_a_2xx_is_delivered_and_a_final_answer_dead_at_once() -> None:
    assert after(Verdict.DELIVERED, answered_at=EVENT_AT) == (DeliveryStatus.DELIVERED, None, None)
    assert after(Verdict.FINAL, answered_at=EVENT_AT) == (DeliveryStatus.DEAD, None, "answered 503")


def test_a_retry_comes_after_the_backoff_or_the_receivers_wait_whichever_is_later() -> None:
    status, due, error = after(Verdict.RETRY, answered_at=EVENT_AT)
    assert (status, error) == (DeliveryStatus.PENDING, "answered 503")
    assert due is not None
    assert EVENT_AT + 2_500 <= due <= EVENT_AT + 5_000
    _, waited, _ = after(Verdict.RETRY, answered_at=EVENT_AT, retry_after=120)
    assert waited == EVENT_AT + 120_000


def test_the_deliverys_own_deadline_ends_it_not_the_policys() -> None:
    # The backoff would reach past the hour: the last try is at the deadline.
    _, last, _ = after(Verdict.RETRY, answered_at=EVENT_AT + HOUR_MS - 10, attempts=30)
    assert last == EVENT_AT + HOUR_MS
    assert after(Verdict.RETRY, answered_at=EVENT_AT + HOUR_MS) == (
        DeliveryStatus.DEAD,
        None,
        "answered 503; given up: its deadline passed, 60 min after the event",
    )
    assert after(Verdict.RETRY, answered_at=EVENT_AT, retry_after=2 * 3600).error == (
        "answered 503; given up: the receiver's Retry-After reaches past its deadline"
    )


@pytest.mark.parametrize(
    ("ms", "said"),
    [(500, "0.5 s"), (90_000, "90 s"), (1_000_000, "16.7 min"), (86_400_000, "24 h")],
)
def test_durations_read_as_people_say_them(ms: int, said: str) -> None:
    assert duration(ms) == said


def test_the_settings_reach_the_deliverer() -> None:
    settings = delivery_settings(
        load_settings(
            {
                "KURIR_WEBHOOK_DEADLINE_SECONDS": "600",
                "KURIR_WEBHOOK_CONCURRENCY": "9",
                "KURIR_WEBHOOK_TIMEOUT_SECONDS": "6",
                "KURIR_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
                "KURIR_WEBHOOK_RETRY_MAX_SECONDS": "1",
            }
        )
    )
    assert (settings.per_endpoint, settings.retry.deadline) == (9, 600)
    assert (settings.retry.base_delay, settings.retry.max_delay) == (0.2, 1)
    assert (settings.total_timeout_s, settings.connect_timeout_s) == (6, 2)
    # A lease outlasts an attempt: it never runs out under a live worker.
    assert settings.lease_ms == 36_000
