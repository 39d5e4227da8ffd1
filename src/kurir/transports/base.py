"""The transport interface: how a message leaves Kurir for WhatsApp, and how news comes back.

A transport is kept small, in the spirit of httpx's ``AsyncBaseTransport``:
it declares what it carries (``limits``), is opened when a worker takes its
device and closed when the worker lets go, and sends one message at a time
(``send``). Everything around a send (claiming the message, leases, pacing,
retries, recording the outcome) belongs to the dispatcher, so a new transport
only has to speak its provider's protocol.

``send`` must either return the provider's id for the message or raise:

* `TransientSendError` for anything that may succeed later: timeouts,
  connection failures, rate limits, the provider's 5xx. The dispatcher retries
  these with backoff, and not sooner than the error's ``retry_after`` (a
  provider's rate limit that names its own pause).
* `PermanentSendError` for anything that never will: the recipient is not on
  WhatsApp, the provider refuses the content. The message fails at once with
  the error's text as its reason.

Any other exception is treated as transient, so a bug in a transport delays
messages instead of losing them. Error texts end up in ``last_error`` and are
shown to the account that owns the message, so they must never carry
credentials.

What happens outside a send (delivery and read receipts, button presses,
inbound messages, the device's connection state) a transport reports through
the `TransportEvents` sink it is given; it never writes a message's status
itself. The dispatcher gives each attempt at a message the same
``message_id``; a transport whose provider accepts a client-chosen id should
pass it on, so a resend after a crash is recognised as the same message.

Each transport registers itself with `kurir.transports.registry` under its
name, with the config type a device's JSON config is decoded into; nothing
outside a transport's own module knows its name.
"""

import abc
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from kurir.domain.content import Content, MediaType, TransportLimits
from kurir.domain.devices import DeviceProfile
from kurir.domain.status import MessageStatus
from kurir.store import Store
from kurir.store.records import ButtonPress, InboundMessage

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from kurir.api.context import ApiContext


class DeviceInfo(msgspec.Struct, frozen=True):
    """The device a transport works for."""

    id: int
    public_id: str
    account_id: int
    phone: str


class MediaFile(msgspec.Struct, frozen=True):
    """A media message's file, fetched by the worker before the send."""

    media_type: MediaType
    content_type: str
    data: bytes
    #: The URL the file came from after redirects.
    url: str


class OutboundMessage(msgspec.Struct, frozen=True):
    """One message to send, with everything a transport needs to address it."""

    message_id: str
    device: DeviceInfo
    recipient: str
    content: Content
    attempt: int
    #: The fetched file of a media message; None for other kinds.
    media: MediaFile | None = None


class TransportEvents(Protocol):
    """Where a transport reports what happens outside a send.

    Every call is durable when it returns; the store applies it, and a
    receipt only ever moves a message forward, so a transport may report the
    same thing twice or out of order.
    """

    async def receipt(
        self, message_id: str, status: MessageStatus, at: int, reason: str | None = None
    ) -> None:
        """The provider says the message reached ``status`` (sent, delivered, read, failed).

        A provider that accepts a message and fails it later (WhatsApp's Cloud
        API reports that in a status webhook) reports ``failed`` with its
        ``reason``, which becomes the message's ``last_error``.
        """

    async def button_press(self, press: ButtonPress) -> None:
        """A recipient pressed a button of one of this device's messages."""

    async def inbound(self, message: InboundMessage) -> None:
        """A recipient sent the device a message."""

    async def device_state(self, state: str) -> None:
        """The device's connection changed: ``connected``, ``pairing``, ``error: …``."""


@dataclasses.dataclass(frozen=True)
class TransportContext:
    """What a transport is given to work with, besides its config."""

    device: DeviceInfo
    events: TransportEvents
    #: For a transport that keeps tables of its own (see `Store.committer`).
    store: Store


class SendError(Exception):
    """A send that did not happen; the message says why, for the message's owner."""


class TransientSendError(SendError):
    """The send may succeed if tried again later.

    ``retry_after`` is the least pause in seconds the provider asks for (its
    pair rate limit, a ``Retry-After``); the backoff is never shorter.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """The send will never succeed; trying again would only repeat the failure."""


class CredentialsRefused(Exception):
    """A device's config was refused by its provider when it was checked."""


class Transport(abc.ABC):
    """Sends messages for one device configured to use it."""

    #: The name devices choose it by.
    name: ClassVar[str]
    #: What a device's JSON config decodes into; unknown fields are refused.
    config_type: ClassVar[type[msgspec.Struct]]
    #: What one message may hold on this transport; checked when a request is accepted.
    limits: ClassVar[TransportLimits]
    #: The transport a new account's first device uses.
    default: ClassVar[bool] = False
    #: The pacing a new device gets unless told otherwise: least and most ms between sends.
    default_pacing_ms: ClassVar[tuple[int, int]] = (0, 0)
    #: Config fields that are secrets: sealed at rest when ``KURIR_SECRET_KEY``
    #: is set (see `kurir.sealing`), and never shown or logged.
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: Any, context: TransportContext) -> None:
        self.config = config
        self.context = context

    @classmethod
    def read_config(cls, config_json: str, *, default_region: str) -> Any:
        """A device's stored JSON config as `config_type`.

        Raises msgspec.DecodeError for a config of the wrong shape and
        ValidationError for a value that breaks a rule; a transport whose
        config holds phone numbers reads them in ``default_region``.
        """
        return msgspec.json.decode(config_json or "{}", type=cls.config_type)

    @classmethod
    async def check_credentials(cls, config: Any) -> DeviceProfile | None:
        """Ask the provider whether ``config`` can send, when a device is added.

        Returns what the provider says of the number, or None for a transport
        that has nothing to ask. Raises `CredentialsRefused` when the provider
        refuses the config, or cannot be reached, with a message that names
        what to fix and never a secret.
        """
        return None

    @classmethod  # noqa: B027  # optional hook: most transports keep nothing of a device
    async def forget_device(cls, store: Store, device_id: int) -> None:
        """Delete what the transport keeps of a device that was removed (its session keys).

        Called by whoever removed the device, once the removal committed,
        whether or not a worker holds the device then.
        """

    @classmethod
    def http_routes(cls, api: "ApiContext") -> Sequence["BaseRoute"]:
        """Routes of the transport's own, added to the API (a provider's inbound webhooks)."""
        return ()

    @abc.abstractmethod
    async def send(self, message: OutboundMessage) -> str:
        """Send ``message``; return the provider's id for it."""

    async def open(self) -> None:  # noqa: B027  # optional hook: most transports hold nothing
        """Connect; called once when a worker takes the device, before any send."""

    async def close(self) -> None:  # noqa: B027  # optional hook: most transports hold nothing
        """Release what the transport holds (connections, sessions)."""
