"""Plain values of webhook endpoints and their delivery logs, as their owners see them."""

import msgspec


class EndpointView(msgspec.Struct, frozen=True, kw_only=True):
    """An endpoint as its account sees it: never its secret, only a hint of it."""

    public_id: str
    url: str
    events: tuple[str, ...]
    #: Public ids of the devices it hears of; None: every device of the account.
    devices: tuple[str, ...] | None
    enabled: bool
    #: Why Kurir disabled it; None when enabled or paused by its owner.
    disabled_reason: str | None
    failing_since: int | None
    secret_hint: str
    #: Until when the secret replaced by the last rotation still signs; None if none does.
    previous_secret_until: int | None
    #: Deliveries waiting (pending or being delivered), and those that gave up.
    pending: int
    dead: int
    created_at: int
    updated_at: int


class EndpointWithSecret(msgspec.Struct, frozen=True):
    """An endpoint just created or rotated, with the secret shown this once."""

    endpoint: EndpointView
    secret: str


class EndpointChanges(msgspec.Struct, frozen=True, kw_only=True):
    """What an update sets; UNSET leaves a field as it is (``devices=None`` means all)."""

    url: str | msgspec.UnsetType = msgspec.UNSET
    events: tuple[str, ...] | msgspec.UnsetType = msgspec.UNSET
    devices: tuple[str, ...] | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class AttemptView(msgspec.Struct, frozen=True, kw_only=True):
    """One try at a delivery, for its log."""

    attempted_at: int
    #: The receiver's HTTP status; None when no answer came.
    status_code: int | None
    latency_ms: int
    error: str | None
    #: The start of the answer's body.
    response: str


class DeliveryView(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery (one event to one endpoint) with every attempt at it, oldest first."""

    #: The row's id, part of the log's paging cursor.
    id: int
    public_id: str
    event_type: str
    #: The JSON body, as it is posted.
    body: str
    status: str
    event_at: int
    due_at: int
    deadline_at: int
    attempts: tuple[AttemptView, ...]
    delivered_at: int | None


class RedeliveryRefused(msgspec.Struct, frozen=True):
    """A redelivery that cannot be done now; ``reason`` says why, for its owner."""

    reason: str
