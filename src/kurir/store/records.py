"""Plain values the store hands out and takes in. No behaviour, no I/O."""

import msgspec

from kurir.domain.events import DeliveryStatus
from kurir.domain.webhook_outcomes import Verdict


class Account(msgspec.Struct, frozen=True):
    id: int
    name: str
    created_at: int


class ApiKey(msgspec.Struct, frozen=True):
    id: int
    account_id: int
    hint: str
    label: str
    created_at: int
    revoked_at: int | None


class Device(msgspec.Struct, frozen=True):
    id: int
    public_id: str
    account_id: int
    phone: str
    transport: str
    config: str
    min_interval_ms: int
    max_interval_ms: int
    created_at: int
    #: Until when a worker has this device; None while no worker has taken it.
    lease_until: int | None
    #: What the device's transport last reported (``connected``, ``error: …``).
    state: str | None = None
    #: What the provider said of the number when it was added (DeviceProfile JSON).
    profile: str | None = None


class NewMessage(msgspec.Struct, frozen=True):
    """A validated request, ready to be stored as a message."""

    message_id: str
    account_id: int
    device_id: int
    recipient: str
    content: str
    status: str
    due_at: int
    created_at: int
    idempotency_key: str | None = None
    request_fingerprint: str | None = None


class Accepted(msgspec.Struct, frozen=True):
    """The stored message that answers a request (a new one, or the replayed first)."""

    message_id: str
    recipient: str
    replayed: bool = False


class IdempotencyMismatch(msgspec.Struct, frozen=True):
    """The Idempotency-Key was used before for a different request."""

    message_id: str


class DeviceRemoved(msgspec.Struct, frozen=True):
    """The message's device was removed before the message could be stored."""


class MessageView(msgspec.Struct, frozen=True):
    """A message as its owner may see it."""

    message_id: str
    device: str
    device_phone: str
    device_transport: str
    recipient: str
    content: str
    status: str
    due_at: int
    attempts: int
    last_error: str | None
    provider_message_id: str | None
    reply: str | None
    created_at: int
    sending_at: int | None
    sent_at: int | None
    delivered_at: int | None
    read_at: int | None
    failed_at: int | None
    cancelled_at: int | None
    #: The public id of the broadcast it belongs to, if any.
    broadcast: str | None


class WorkerProcess(msgspec.Struct, frozen=True):
    """The process a worker runs in, as the kernel of its machine knows it."""

    #: Where pids name the same processes: the machine's name, its boot and
    #: the pid namespace. Workers of one host can see whether another lives.
    host: str
    pid: int
    #: When the process started, in clock ticks after boot: a reused pid has another.
    started: int


class ClaimedMessage(msgspec.Struct, frozen=True):
    """A message a worker holds a lease on and is about to send."""

    id: int
    message_id: str
    device_id: int
    recipient: str
    content: str
    attempts: int
    #: When it was due: how late it went out is measured from this.
    due_at: int


class SendOutcome(msgspec.Struct, frozen=True):
    """What became of one send attempt, to be recorded.

    ``status`` is sent, queued (retry at ``due_at``) or failed.
    """

    message_pk: int
    device_id: int
    worker: str
    status: str
    at: int
    provider_message_id: str | None = None
    due_at: int | None = None
    error: str | None = None
    #: When the device may send next, for paced devices; kept across takeovers.
    next_send_at: int | None = None


class Receipt(msgspec.Struct, frozen=True):
    """A provider's word that a device's message reached ``status`` (delivered, read)."""

    device_id: int
    message_id: str
    status: str
    at: int


class InboundView(msgspec.Struct, frozen=True):
    """An inbound message as its account sees it; ``id`` is the paging cursor."""

    id: int
    message_id: str
    device: str
    sender: str
    sender_name: str | None
    type: str
    text: str | None
    media_url: str | None
    quoted_message_id: str | None
    received_at: int


class ButtonPress(msgspec.Struct, frozen=True):
    """A recipient chose one of a sent message's buttons."""

    #: Kurir's id of the message whose button was pressed.
    message_id: str
    sender: str
    #: The button's position, from 1.
    index: int
    at: int
    #: The provider's id of the press (or of the text that made it), so a
    #: redelivery is recorded once.
    provider_message_id: str | None = None


class ReplyRecorded(msgspec.Struct, frozen=True):
    """A press, or a text that stood for one, recorded as a button message's reply."""

    #: Kurir's id of the message answered.
    message_id: str
    index: int
    label: str


class InboundRecorded(msgspec.Struct, frozen=True):
    """A message a recipient sent, stored as an inbound message."""

    #: Kurir's id of the inbound message.
    message_id: str


class InboundFile(msgspec.Struct, frozen=True):
    """A file a recipient sent, fetched by the transport as the message arrived."""

    content_type: str
    data: bytes
    #: A document's name, as the sender's app gave it.
    filename: str | None = None


class InboundMessage(msgspec.Struct, frozen=True):
    """Something a recipient sent the device that is not a button press."""

    sender: str
    #: text, image, video, audio, document, location, sticker, …
    type: str
    at: int
    text: str | None = None
    media_url: str | None = None
    sender_name: str | None = None
    #: The provider's id of this message, so a redelivery is recorded once.
    provider_message_id: str | None = None
    #: Kurir's id of the message this one quotes, if it quotes one of ours.
    quoted_message_id: str | None = None
    #: The file itself, kept by Kurir and served at its own ``media_url``.
    media: InboundFile | None = None


class ProviderFailure(msgspec.Struct, frozen=True):
    """The provider says a message of ``device_id`` it had accepted failed, and why."""

    device_id: int
    message_id: str
    reason: str
    at: int


class ClaimedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook delivery a worker holds a lease on, with what it takes to attempt it."""

    id: int
    #: The ``webhook-id`` of every attempt.
    public_id: str
    endpoint_id: int
    #: The endpoint's public id, to name it in logs.
    endpoint: str
    url: str
    #: The current secret, and a rotated-out one still in its overlap.
    secrets: tuple[str, ...]
    body: bytes
    #: Tries so far, this one included.
    attempts: int

    def __repr__(self) -> str:
        # The URL may hold credentials, and the secrets are secrets.
        return f"ClaimedDelivery(id={self.id}, endpoint={self.endpoint!r})"


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt at a claimed delivery did, as its worker reports it.

    The fields after ``worker`` are `kurir.webhooks.attempt.AttemptOutcome`'s.
    """

    delivery_pk: int
    worker: str
    verdict: Verdict
    attempted_at: int
    status_code: int | None
    latency_ms: int
    #: The start of the answer's body.
    response: str
    error: str | None
    retry_after_seconds: int | None = None

    @property
    def answered_at(self) -> int:
        return self.attempted_at + self.latency_ms


class RecordedAttempt(msgspec.Struct, frozen=True):
    """What recording an attempt did."""

    #: False: the worker no longer held the lease, and nothing was recorded.
    held: bool
    #: The delivery's status afterwards, when held.
    status: DeliveryStatus | None = None
    #: Why the endpoint was disabled, when this attempt disabled it.
    endpoint_disabled: str | None = None
