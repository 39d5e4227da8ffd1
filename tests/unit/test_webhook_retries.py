"""When a webhook delivery is tried again, and how a receiver's Retry-After is read."""

import random
from email.utils import format_datetime

import pytest

from kurir.clock import to_datetime
from kurir.domain.retry import DeliveryRetryPolicy, RetryPolicy, backoff
from kurir.webhooks.attempt import MAX_RETRY_AFTER_SECONDS, retry_after_seconds

EVENT_AT = 1_700_000_000_000
DAY_MS = 24 * 3600 * 1000


def schedule(policy: DeliveryRetryPolicy, rng: random.Random) -> list[int]:
    """Every attempt's time after the first, in ms after the event, for a receiver that is down."""
    times, now, attempts = [], EVENT_AT, 1
    while (next_at := policy.next_attempt_at(
        attempts=attempts, event_at=EVENT_AT, now=now, rng=rng
    )) is not None:  # fmt: skip
        times.append(next_at - EVENT_AT)
        now, attempts = next_at, attempts + 1
    return times


def test_a_seeded_random_gives_the_same_schedule() -> None:
    first = schedule(DeliveryRetryPolicy(), random.Random(7))
    assert first == schedule(DeliveryRetryPolicy(), random.Random(7))
    assert first != schedule(DeliveryRetryPolicy(), random.Random(8))
    assert first[:6] == [3310, 9064, 25573, 47022, 108457, 217712]


def test_the_schedule_backs_off_exponentially_up_to_an_hour_until_the_deadline() -> None:
    times = schedule(DeliveryRetryPolicy(), random.Random(7))
    gaps = [later - earlier for earlier, later in zip([0, *times], times, strict=False)]
    for attempts, gap in enumerate(gaps[:-1], start=1):
        ceiling = min(3600.0, 5.0 * 2 ** (attempts - 1)) * 1000
        assert ceiling / 2 <= gap <= ceiling, attempts
    # The last try is at the deadline, a day after the event, then the delivery is dead.
    assert times[-1] == DAY_MS
    assert 0 < gaps[-1] <= 3600 * 1000
    assert 30 <= len(times) <= 60


def test_the_deadline_is_configurable() -> None:
    times = schedule(DeliveryRetryPolicy(deadline=600.0), random.Random(7))
    assert times[-1] == 600 * 1000
    assert all(0 < t <= 600 * 1000 for t in times)


def test_a_try_is_never_sooner_than_the_receiver_asked() -> None:
    policy = DeliveryRetryPolicy()
    now = EVENT_AT + 60_000
    # The backoff after a first failure is 2.5 to 5 seconds; Retry-After asks for two minutes.
    next_at = policy.next_attempt_at(
        attempts=1, event_at=EVENT_AT, now=now, retry_after_seconds=120, rng=random.Random(1)
    )
    assert next_at == now + 120_000
    # A Retry-After shorter than the backoff changes nothing.
    assert policy.next_attempt_at(
        attempts=10, event_at=EVENT_AT, now=now, retry_after_seconds=1, rng=random.Random(1)
    ) == policy.next_attempt_at(attempts=10, event_at=EVENT_AT, now=now, rng=random.Random(1))


def test_a_retry_after_beyond_the_deadline_ends_the_delivery() -> None:
    policy = DeliveryRetryPolicy()
    now = EVENT_AT + DAY_MS - 60_000
    assert (
        policy.next_attempt_at(attempts=3, event_at=EVENT_AT, now=now, retry_after_seconds=61)
        is None
    )
    at_deadline = policy.next_attempt_at(
        attempts=3, event_at=EVENT_AT, now=now, retry_after_seconds=60
    )
    assert at_deadline == EVENT_AT + DAY_MS


def test_a_failure_at_or_after_the_deadline_ends_the_delivery() -> None:
    policy = DeliveryRetryPolicy()
    for now in (EVENT_AT + DAY_MS, EVENT_AT + 2 * DAY_MS):
        assert policy.next_attempt_at(attempts=1, event_at=EVENT_AT, now=now) is None


def test_a_backoff_past_the_deadline_is_cut_to_it() -> None:
    policy = DeliveryRetryPolicy()
    now = EVENT_AT + DAY_MS - 1000
    # Forty failures back off for half an hour at least; one second is left.
    assert policy.next_attempt_at(attempts=40, event_at=EVENT_AT, now=now) == EVENT_AT + DAY_MS


def test_message_retries_keep_their_delays() -> None:
    # The values message retries had before the backoff was shared with webhooks.
    rng = random.Random(3)
    assert [RetryPolicy().delay_after(n, rng) for n in range(1, 9)] == [
        1.2379646270918914, 3.0884584505919035, 5.4798206661923174, 12.831360308769556,
        26.011524865728866, 34.09692349567402, 64.84275145951194, None,
    ]  # fmt: skip
    assert RetryPolicy().delay_after(4, random.Random(42)) == backoff(
        4, 2.0, 600.0, random.Random(42)
    )


# -- Retry-After ----------------------------------------------------------------

NOW = 1_445_412_400_000  # Wed, 21 Oct 2015 07:26:40 GMT


def http_date(ms: int) -> str:
    return format_datetime(to_datetime(ms), usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        (" 5 ", 5),
        ("0", 0),
        ("86400", 86400),
        ("86401", MAX_RETRY_AFTER_SECONDS),
        ("9" * 5000, MAX_RETRY_AFTER_SECONDS),  # longer than int() takes by default
        (http_date(NOW + 90_000), 90),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 80),  # IMF-fixdate, HTTP's preferred form
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 80),  # RFC 850, obsolete but allowed
        ("Wed Oct 21 07:28:00 2015", 80),  # asctime, obsolete but allowed
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0),  # in the past: no wait
        ("Sat, 21 Oct 2017 07:28:00 GMT", MAX_RETRY_AFTER_SECONDS),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("\u0663", None),  # ARABIC-INDIC DIGIT THREE: a digit to Python, not to HTTP
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(value: str, seconds: int | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds
