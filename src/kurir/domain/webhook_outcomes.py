"""What an attempt at a webhook delivery means for the delivery, and for its endpoint.

Pure rules; `kurir.store.deliveries` applies them when it records attempts.
A delivery is tried until a 2xx, a final answer, or its deadline: the one
set when its event was made, so changing the setting later moves no
delivery's end. An endpoint that has failed every delivery for a whole
deadline is disabled, with a reason its owner can read.
"""

import enum
from typing import NamedTuple

import msgspec

from kurir.clock import to_datetime
from kurir.domain.events import DeliveryStatus
from kurir.domain.retry import DeliveryRetryPolicy


class Verdict(enum.StrEnum):
    """What an attempt means for its delivery (see `kurir.webhooks.attempt` for which is which)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FINAL = "final"


class NextState(NamedTuple):
    status: DeliveryStatus
    #: When a pending delivery is tried again.
    due_at: int | None
    #: The delivery's last error, None once delivered.
    error: str | None


def after_attempt(
    verdict: Verdict,
    *,
    attempts: int,
    event_at: int,
    deadline_at: int,
    answered_at: int,
    error: str | None,
    retry_after_seconds: float | None,
    policy: DeliveryRetryPolicy,
) -> NextState:
    """The delivery's state after its ``attempts``-th try, which ended at ``answered_at``.

    A retry comes at the time ``policy`` gives, never before the receiver's
    Retry-After; one that would fall past ``deadline_at`` makes the delivery dead.
    """
    if verdict == Verdict.DELIVERED:
        return NextState(DeliveryStatus.DELIVERED, None, None)
    if verdict == Verdict.FINAL:
        return NextState(DeliveryStatus.DEAD, None, error)
    own_deadline = msgspec.structs.replace(policy, deadline=(deadline_at - event_at) / 1000)
    due = own_deadline.next_attempt_at(
        attempts=attempts,
        event_at=event_at,
        now=answered_at,
        retry_after_seconds=retry_after_seconds,
    )
    if due is not None:
        return NextState(DeliveryStatus.PENDING, due, error)
    if answered_at >= deadline_at:
        why = f"its deadline passed, {duration(deadline_at - event_at)} after the event"
    else:
        why = "the receiver's Retry-After reaches past its deadline"
    return NextState(DeliveryStatus.DEAD, None, f"{error}; given up: {why}")


def disabled_reason(*, deadline_ms: int, failing_since: int, last_error: str | None) -> str:
    """Why an endpoint that failed every delivery since ``failing_since`` was disabled."""
    since = to_datetime(failing_since).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"every delivery failed for {duration(deadline_ms)}, the delivery deadline,"
        f" since {since}; the last: {last_error or 'no answer'}"
    )


def duration(ms: int) -> str:
    """``ms`` for people: seconds, minutes or hours, to a tenth."""
    seconds = ms / 1000
    if seconds < 120:
        return f"{round(seconds, 1):g} s"
    if seconds < 2 * 3600:
        return f"{round(seconds / 60, 1):g} min"
    return f"{round(seconds / 3600, 1):g} h"
