"""One attempt to deliver a signed webhook, and what its outcome means for the next.

The outbox row is the delivery; this is one try at it. The body is posted
through `kurir.egress`, so only to public addresses (unless private ones are
allowed), within a connect and a total timeout, reading at most 1 KiB of the
answer, and never following a redirect. The outcome says what to do next:

- ``delivered``: a 2xx answer.
- ``retry``: no answer (a network error or a timeout), or an answer that means
  "not now": 408, 409, 425, 429, any 5xx, and a 3xx. A redirect is not
  followed (the receiver could send the body anywhere, and following it
  hides a stale URL forever); it fails the attempt, and is retried like an
  outage because it is usually a receiver being moved or misconfigured,
  which its owner can fix before the deadline by correcting the URL or the
  server.
- ``final``: an answer that will not change however often it is asked:
  other 4xx (410 Gone is a receiver saying it wants no more), and a URL Kurir
  refuses, such as one on a private address.

Nothing here names a secret, a URL's credentials or its query: errors show
URLs as `kurir.egress.redact` does.
"""

import http
import math
import re
import time
from collections.abc import Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import version

import httpx
import msgspec

from kurir.clock import now_ms
from kurir.domain.webhook_outcomes import Verdict
from kurir.egress import Egress, PermanentEgressError, Posted, TransientEgressError, redact
from kurir.webhooks.signing import sign

__all__ = ["AttemptOutcome", "Verdict", "attempt_delivery", "retry_after_seconds"]

USER_AGENT = f"Kurir-Webhooks/{version('kurir')}"
#: How much of an answer's body is read and kept for the delivery's log.
KEEP_BYTES = 1024
#: The longest Retry-After honoured: a day, the default delivery deadline.
MAX_RETRY_AFTER_SECONDS = 24 * 3600

# Answers that mean "not now" rather than "never".
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
# Where Retry-After says when "now" will be.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_SECONDS = re.compile(r"[0-9]+")


class AttemptOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt did, as the delivery's log keeps it."""

    verdict: Verdict
    #: When the attempt started (ms since the epoch); ``webhook-timestamp`` is this in seconds.
    attempted_at: int
    #: The answer's HTTP status, or None when none came.
    status_code: int | None
    latency_ms: int
    #: The start of the answer's body (at most `KEEP_BYTES`), as text for display.
    response: str
    #: Why the webhook was not delivered; None when it was.
    error: str | None
    #: The receiver's Retry-After on a 429 or 503, in seconds, at most a day.
    retry_after_seconds: int | None = None


async def attempt_delivery(
    egress: Egress,
    *,
    url: str,
    secrets: Sequence[str],
    msg_id: str,
    body: bytes,
    connect_timeout: float = 10.0,
    total_timeout: float = 30.0,
) -> AttemptOutcome:
    """Post ``body`` (JSON) to ``url``, signed with ``secrets``, and judge the answer.

    The total timeout is the upper end of the 15 to 30 s Standard Webhooks
    recommends: time for a receiver to process, too little to tie a worker up.

    ``msg_id`` is the delivery's id, the same on every attempt, so a receiver
    can tell a retry from a new event. A secret that is not one raises
    ValueError before anything is sent.
    """
    attempted_at = now_ms()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **sign(secrets, msg_id, attempted_at // 1000, body),
    }
    started = time.monotonic()
    try:
        posted = await egress.post(
            url,
            body=body,
            headers=headers,
            keep_bytes=KEEP_BYTES,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
        )
    except (TransientEgressError, PermanentEgressError) as error:
        transient = isinstance(error, TransientEgressError)
        return AttemptOutcome(
            verdict=Verdict.RETRY if transient else Verdict.FINAL,
            attempted_at=attempted_at,
            status_code=None,
            latency_ms=_since(started),
            response="",
            error=error.message,
        )
    return _judge(posted, url, attempted_at=attempted_at, latency_ms=_since(started))


def _judge(posted: Posted, url: str, *, attempted_at: int, latency_ms: int) -> AttemptOutcome:
    status = posted.status
    error = None
    retry_after = None
    if 200 <= status < 300:
        verdict = Verdict.DELIVERED
    elif 400 <= status < 500 and status not in _RETRYABLE_4XX:
        verdict = Verdict.FINAL
    else:
        verdict = Verdict.RETRY
    if verdict != Verdict.DELIVERED:
        error = f"{redact(httpx.URL(url))}: answered {_status_text(status)}"
    if 300 <= status < 400:
        target = _redirect_target(url, posted.headers.get("location"))
        error = f"{error}{target}; redirects are not followed: set the URL that answers"
    if status in _RETRY_AFTER_STATUSES and "retry-after" in posted.headers:
        retry_after = retry_after_seconds(posted.headers["retry-after"], now=now_ms())
    return AttemptOutcome(
        verdict=verdict,
        attempted_at=attempted_at,
        status_code=status,
        latency_ms=latency_ms,
        response=_text(posted.body_start),
        error=error,
        retry_after_seconds=retry_after,
    )


def retry_after_seconds(value: str, *, now: int) -> int | None:
    """The wait a Retry-After header asks for, in whole seconds from ``now`` (ms).

    Either form HTTP allows: a number of seconds, or an HTTP date (one in the
    past asks for no wait). Bounded to `MAX_RETRY_AFTER_SECONDS`; None for a
    value that is neither.
    """
    value = value.strip()
    if _SECONDS.fullmatch(value):
        # A long string of digits is a long wait; int() of it could be slow, or refused.
        return min(int(value[:9]), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if moment.tzinfo is None:  # the asctime form has no zone; HTTP dates are in GMT
        moment = moment.replace(tzinfo=UTC)
    seconds = math.ceil(moment.timestamp() - now / 1000)
    return min(max(seconds, 0), MAX_RETRY_AFTER_SECONDS)


def _status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _redirect_target(url: str, location: str | None) -> str:
    if not location:
        return ""
    try:
        return f" (to {redact(httpx.URL(url).join(location))})"
    except httpx.InvalidURL:
        return ""


def _text(start: bytes) -> str:
    # Cut anywhere, and from any server: invalid UTF-8 becomes U+FFFD, and so does
    # NUL, which PostgreSQL's text columns refuse.
    return start.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
