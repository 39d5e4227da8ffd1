"""The transport interface: how a message leaves Kurir for WhatsApp.

A transport is deliberately small, in the spirit of httpx's
``AsyncBaseTransport``: it declares what it can carry (``limits``) and sends
one message (``send``). Everything around a send (claiming the message,
leases, pacing, retries, recording the outcome) belongs to the dispatcher, so
a new transport only has to speak its provider's protocol.

``send`` must either return the provider's id for the message or raise:

* `TransientSendError` for anything that may succeed later: timeouts,
  connection failures, rate limits, the provider's 5xx. The dispatcher retries
  these with backoff.
* `PermanentSendError` for anything that never will: the recipient is not on
  WhatsApp, the credentials are wrong, the provider refuses the content. The
  message fails at once with the error's text as its reason.

Any other exception is treated as transient, so a bug in a transport delays
messages instead of losing them. Error texts end up in ``last_error`` and are
shown to the account that owns the message, so they must never carry
credentials.

The dispatcher gives each attempt at a message the same ``message_id``; a
transport whose provider accepts a client-chosen id (as WhatsApp Web does)
should pass it on, so a resend after a crash is recognised as the same message.
"""

import abc

import msgspec

from kurir.domain.buttons import ButtonLayout, ButtonLimits, ButtonMessage


class OutboundMessage(msgspec.Struct, frozen=True):
    """One message to send, with everything a transport needs to address it."""

    message_id: str
    device_id: int
    device_phone: str
    recipient: str
    content: ButtonMessage
    layout: ButtonLayout
    attempt: int


class SendError(Exception):
    """A send that did not happen; the message says why, for the message's owner."""


class TransientSendError(SendError):
    """The send may succeed if tried again later."""


class PermanentSendError(SendError):
    """The send will never succeed; trying again would only repeat the failure."""


class Transport(abc.ABC):
    """Sends messages for the devices configured to use it."""

    #: What one message may hold on this transport; checked when a request is accepted.
    limits: ButtonLimits

    @abc.abstractmethod
    async def send(self, message: OutboundMessage) -> str:
        """Send ``message``; return the provider's id for it."""

    async def aclose(self) -> None:  # noqa: B027  # optional hook: most transports hold nothing
        """Release what the transport holds (connections, sessions)."""
