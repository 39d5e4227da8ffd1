"""Per-account request rate limit: a token bucket per account, in this process."""

import time


class RateLimiter:
    """Allows ``rate`` requests a second per account, with bursts up to one second's worth.

    The limit holds per API process; N processes behind a balancer admit N
    times the rate, which an operator sets with that in mind.
    """

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._buckets: dict[int, tuple[float, float]] = {}

    def allow(self, account_id: int) -> bool:
        if self._rate <= 0:
            return True
        now = time.monotonic()
        tokens, last = self._buckets.get(account_id, (self._rate, now))
        tokens = min(self._rate, tokens + (now - last) * self._rate)
        if tokens < 1:
            self._buckets[account_id] = (tokens, now)
            return False
        self._buckets[account_id] = (tokens - 1, now)
        return True
