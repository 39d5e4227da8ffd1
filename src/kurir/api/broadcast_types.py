"""Response bodies of the broadcast, contact and message-list endpoints."""

from typing import Annotated

import msgspec

from kurir.api.types import MessageData

Cursor = Annotated[
    str | None,
    msgspec.Meta(description="Pass as `before` for the next, older page; null on the last."),
]


class BroadcastCreatedResponse(msgspec.Struct, kw_only=True):
    """Alat WA's answer, with what was left out and why."""

    status: str = "ok"
    message: str = "Broadcast created"
    broadcast_id: str
    #: The messages created: one per valid recipient, repeats and opted-out ones left out.
    total_receiver: int
    total_invalid: int
    total_duplicate: int
    total_opted_out: int


class InvalidReceiver(msgspec.Struct, frozen=True):
    index: int
    phone: str
    reason: str


class InvalidReceiversBody(msgspec.Struct, kw_only=True):
    """A 422 for a bulk request: the usual error, and every item at fault."""

    status: str = "error"
    message: str
    invalid: list[InvalidReceiver]


class BroadcastTotals(msgspec.Struct, frozen=True, kw_only=True):
    """The broadcast's messages by status."""

    scheduled: int = 0
    queued: int = 0
    sending: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    cancelled: int = 0


class BroadcastData(msgspec.Struct, frozen=True, kw_only=True):
    broadcast_id: str
    title: str
    device: str
    #: text or media
    type: str
    #: scheduled, running, paused, cancelled or completed
    state: str
    date_execute: str
    active_start: str | None
    active_end: str | None
    interval_from: int | float
    interval_to: int | float
    total_receiver: int
    total_invalid: int
    total_duplicate: int
    total_opted_out: int
    #: By status; only in a single broadcast's answer, not in the list.
    totals: BroadcastTotals | None
    #: When its next planned message is due; null when none is planned.
    next_send_at: str | None
    created_at: str


class BroadcastResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: BroadcastData


class BroadcastListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: Annotated[list[BroadcastData], msgspec.Meta(description="Newest first.")]
    next_cursor: Cursor


class BroadcastActionResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    message: str
    broadcast_id: str
    state: str


class MessageListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: Annotated[list[MessageData], msgspec.Meta(description="Newest first.")]
    next_cursor: Cursor


class CustomerCreatedResponse(msgspec.Struct, kw_only=True):
    """Alat WA's answer (its count is a string), with what was left out."""

    status: str = "ok"
    message: str = "Customer successfully created"
    total_customer: str
    group: str | None
    total_updated: int
    total_duplicate: int
    total_invalid: int


class CustomerData(msgspec.Struct, frozen=True, kw_only=True):
    phone: str
    name: str
    opt1: str
    opt2: str
    opt3: str
    opt4: str
    opt5: str
    opt6: str
    opt7: str
    group: str | None
    #: True once the number answered a broadcast with a stop word.
    opted_out: bool
    created_at: str


class CustomerListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: Annotated[list[CustomerData], msgspec.Meta(description="Newest first.")]
    next_cursor: Cursor


class CustomerDeletedResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    message: str = "Customer deleted"
    phone: str
    #: How many groups it was removed from.
    deleted: int
