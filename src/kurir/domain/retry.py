"""When to try again after a transient failure: exponential backoff with jitter.

One backoff serves both kinds of retry. A message gives up after a number of
attempts (`RetryPolicy`); a webhook delivery keeps trying until a deadline
after its event, and never sooner than its receiver asked (`DeliveryRetryPolicy`).
"""

import random

import msgspec


def backoff(
    attempts: int, base_delay: float, max_delay: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after ``attempts`` failed tries.

    A uniform draw from the upper half of the exponential ceiling keeps many
    things that failed together from retrying together.
    """
    # The exponent is capped: past ~1024 attempts 2.0 * 2**n overflows a float,
    # and 2**64 times any base is far beyond any useful max_delay anyway.
    ceiling = min(max_delay, base_delay * (2 ** min(attempts - 1, 64)))
    return (rng or random).uniform(ceiling / 2, ceiling)


class RetryPolicy(msgspec.Struct, frozen=True):
    """How often and how patiently a transient failure is retried."""

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 600.0

    def delay_after(self, attempts: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after ``attempts`` failed tries, or None to give up."""
        if attempts >= self.max_attempts:
            return None
        return backoff(attempts, self.base_delay, self.max_delay, rng)


class DeliveryRetryPolicy(msgspec.Struct, frozen=True):
    """How a webhook delivery is retried: for a time after its event, not a number of tries.

    A receiver that is down for an hour should get everything it missed, however
    many events that was; one gone for longer than ``deadline`` is not waited for.
    """

    base_delay: float = 5.0
    #: The longest pause between two tries: a receiver that comes back gets its
    #: backlog within this.
    max_delay: float = 3600.0
    #: Seconds after the event that the last try may start.
    deadline: float = 24 * 3600.0

    def next_attempt_at(
        self,
        *,
        attempts: int,
        event_at: int,
        now: int,
        retry_after_seconds: float | None = None,
        rng: random.Random | None = None,
    ) -> int | None:
        """When to try again (ms) after ``attempts`` failed tries, or None: the delivery is dead.

        Never sooner than ``retry_after_seconds`` (the receiver's Retry-After).
        A try the backoff would put past the deadline happens at the deadline,
        so the last one is as late as the deadline allows; a Retry-After that
        reaches past it, or a failure at or after it, ends the delivery.
        """
        deadline_at = event_at + round(self.deadline * 1000)
        if now >= deadline_at:
            return None
        earliest = now + round((retry_after_seconds or 0.0) * 1000)
        if earliest > deadline_at:
            return None
        planned = now + round(backoff(attempts, self.base_delay, self.max_delay, rng) * 1000)
        return min(max(planned, earliest), deadline_at)
