"""What a Graph API refusal means for the message: try later, give up, or fix the credentials.

Meta asks clients to act on ``error.code`` (and ``error_data.details``), not
on titles or HTTP statuses, so the code decides first; the status decides
only for answers without a Graph envelope (a proxy's 502, an HTML 503).

The texts are shown to the message's owner as ``last_error``: they say what
happened in plain words, then Meta's own code, title and details. Graph's
error texts never hold the access token, and nothing else is added.
"""

import email.utils
import time

import msgspec

from kurir.transports.base import PermanentSendError, SendError, TransientSendError

#: Meta's throttles: Graph's app and account limits, the Cloud API's rate,
#: spam and pair rate limits. All pass with time.
THROTTLING = frozenset({4, 80007, 130429, 131048, 131056})
#: The pair rate limit: one message per 6 seconds to the same recipient.
PAIR_RATE_LIMIT = 131056
PAIR_RATE_SECONDS = 6.0
#: Graph's transient failures and the Cloud API's "try again" ones: unknown
#: error, service unavailable, something went wrong, server temporarily unavailable.
SERVER_TROUBLE = frozenset({1, 2, 131000, 131016, 133004})
#: The token is missing, expired, revoked or lacks a permission (Meta's
#: authorization codes: 0, 3, 10, 102, 104, 190, 200 to 299, and 131005
#: "access denied"). Nothing the device sends works until its config is fixed.
AUTHORIZATION = frozenset({0, 3, 10, 102, 104, 190, 131005, *range(200, 300)})
#: Graph's "unknown object" (code 100, subcode 33): the phone_number_id is
#: wrong, or the token may not see it. Also the config's to fix.
UNKNOWN_OBJECT = (100, 33)
#: The business may write freely only within 24 hours of the recipient's last message.
OUTSIDE_WINDOW = 131047
#: The recipient cannot receive it (not on WhatsApp, old app, terms not accepted, ...).
UNDELIVERABLE = 131026


class CredentialsInvalid(PermanentSendError):
    """Meta refused the device's credentials; the device cannot send until they are fixed."""


class _ErrorData(msgspec.Struct):
    details: str | None = None


class GraphError(msgspec.Struct):
    """Graph's ``error`` object, as far as Kurir reads it."""

    code: int | None = None
    message: str = ""
    error_subcode: int | None = None
    error_data: _ErrorData | None = None
    is_transient: bool = False

    @property
    def details(self) -> str | None:
        return self.error_data.details if self.error_data is not None else None


class _Envelope(msgspec.Struct):
    error: GraphError


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def graph_error(body: bytes) -> GraphError | None:
    """The ``error`` of a Graph error answer; None when the body is not one."""
    try:
        return _ENVELOPE.decode(body).error
    # A ValidationError is a DecodeError; RecursionError is msgspec's answer to deep nesting.
    except (msgspec.DecodeError, RecursionError):
        return None


def describe(code: int, title: str, details: str | None) -> str:
    """Meta's account of an error, as Meta writes it: ``(#code) title: details``."""
    shown = title if title.startswith("(#") else f"(#{code}) {title}"
    return f"{shown}: {details}" if details and details != title else shown


def explain(code: int, title: str, details: str | None) -> str:
    """An error code in plain words for the message's owner, followed by Meta's account."""
    meta = f"WhatsApp: {describe(code, title, details)}"
    if code == OUTSIDE_WINDOW:
        return (
            "outside the 24-hour customer service window: the recipient has not written "
            "to this number in the last 24 hours, so only a template message can reach "
            f"them (POST /send/template). {meta}"
        )
    if code == UNDELIVERABLE:
        return (
            "the recipient cannot receive this message (no WhatsApp account on the number, "
            f"an old WhatsApp, or WhatsApp's terms not accepted). {meta}"
        )
    return meta


def send_error(status: int, body: bytes, retry_after: str | None = None) -> SendError:
    """The error for a Graph answer to a send that was not a success."""
    error = graph_error(body)
    if error is None or error.code is None:
        return _without_envelope(status, retry_after)
    code = error.code
    meta = describe(code, error.message, error.details)
    if code in AUTHORIZATION or (code, error.error_subcode) == UNKNOWN_OBJECT:
        return CredentialsInvalid(
            "Meta refused the device's credentials (access_token or phone_number_id); "
            f"fix the device's config. WhatsApp: {meta}"
        )
    if code in THROTTLING:
        least = PAIR_RATE_SECONDS if code == PAIR_RATE_LIMIT else None
        wait = _seconds(retry_after)
        if wait is not None:
            least = max(least or 0.0, wait)
        return TransientSendError(f"rate limited by WhatsApp: {meta}", retry_after=least)
    if code in SERVER_TROUBLE or error.is_transient or status >= 500:
        return TransientSendError(f"WhatsApp is having trouble: {meta}")
    return PermanentSendError(explain(code, error.message, error.details))


def _without_envelope(status: int, retry_after: str | None) -> SendError:
    if status >= 500 or status in (408, 429):
        return TransientSendError(
            f"the Graph API answered {status} without an error", retry_after=_seconds(retry_after)
        )
    return PermanentSendError(
        f"the Graph API answered {status} without an error; is base_url right?"
    )


def _seconds(retry_after: str | None) -> float | None:
    """A ``Retry-After`` header's pause: seconds, or an HTTP date."""
    if retry_after is None:
        return None
    value = retry_after.strip()
    if value.isdigit():
        return float(min(int(value), 3600))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), 3600.0))
