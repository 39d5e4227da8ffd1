"""Plain values the store hands out and takes in. No behaviour, no I/O."""

import msgspec


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


class SandboxDelivery(msgspec.Struct, frozen=True):
    message_id: str
    device_id: int
    recipient: str
    content: str
    delivered_at: int
    #: How many times the gateway sent this message (more than 1 only after a crash).
    send_count: int = 1
