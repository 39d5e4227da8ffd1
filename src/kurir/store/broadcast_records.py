"""Plain values of broadcasts and contacts, as the store takes and gives them."""

import msgspec

from kurir.domain.inline_media import InlineMedia
from kurir.domain.spintax import PLACEHOLDERS


class NewBroadcast(msgspec.Struct, frozen=True, kw_only=True):
    """A validated broadcast, ready to store with its messages."""

    public_id: str
    account_id: int
    device_id: int
    title: str
    type: str
    starts_at: int
    window_start: int | None
    window_end: int | None
    interval_from_ms: int
    interval_to_ms: int
    invalid: int
    duplicates: int
    opted_out: int
    created_at: int
    media: InlineMedia | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None


class BroadcastMessage(msgspec.Struct, frozen=True, array_like=True):
    """One recipient of a broadcast and the content rendered for them."""

    recipient: str
    content: str


class Broadcast(msgspec.Struct, frozen=True, kw_only=True):
    """A stored broadcast, as its owner sees it (without its messages' totals)."""

    id: int
    public_id: str
    account_id: int
    device_id: int
    device: str
    title: str
    type: str
    state: str
    starts_at: int
    window_start: int | None
    window_end: int | None
    interval_from_ms: int
    interval_to_ms: int
    total: int
    invalid: int
    duplicates: int
    opted_out: int
    request_fingerprint: str | None
    #: The row ids of its first and last message: its messages lie between.
    first_message_pk: int | None
    last_message_pk: int | None
    created_at: int
    updated_at: int


class BroadcastProgress(msgspec.Struct, frozen=True):
    """A broadcast's messages by status now, and when the next one is due."""

    by_status: dict[str, int]
    next_due_at: int | None

    @property
    def waiting(self) -> int:
        """Messages not yet settled: scheduled, queued or being sent."""
        return sum(self.by_status.get(status, 0) for status in ("scheduled", "queued", "sending"))


class StateConflict(msgspec.Struct, frozen=True):
    """A pause or resume asked of a broadcast in a state that does not allow it."""

    state: str


class NewContact(msgspec.Struct, frozen=True, kw_only=True):
    phone: str
    name: str = ""
    opt1: str = ""
    opt2: str = ""
    opt3: str = ""
    opt4: str = ""
    opt5: str = ""
    opt6: str = ""
    opt7: str = ""


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    """A stored contact; ``id`` is the paging cursor."""

    id: int
    group: str
    phone: str
    name: str
    opt1: str
    opt2: str
    opt3: str
    opt4: str
    opt5: str
    opt6: str
    opt7: str
    opted_out: bool
    created_at: int

    def fields(self) -> dict[str, str]:
        """The values a template's placeholders take."""
        return {name: getattr(self, name) for name in PLACEHOLDERS}


class ContactsStored(msgspec.Struct, frozen=True):
    created: int
    updated: int
    #: Phones already in the group, left as they were.
    duplicates: int
