"""When to try again after a transient failure: exponential backoff with jitter."""

import random

import msgspec


class RetryPolicy(msgspec.Struct, frozen=True):
    """How often and how patiently a transient failure is retried."""

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 600.0

    def delay_after(self, attempts: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after ``attempts`` failed tries, or None to give up.

        A uniform draw from the upper half of the exponential ceiling keeps many
        messages that failed together from retrying together.
        """
        if attempts >= self.max_attempts:
            return None
        # The exponent is capped: past ~1024 attempts 2.0 * 2**n overflows a float,
        # and 2**64 times any base is far beyond any useful max_delay anyway.
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempts - 1, 64)))
        return (rng or random).uniform(ceiling / 2, ceiling)
