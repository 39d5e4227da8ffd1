"""A message's life after acceptance: every change of its status, and the events it causes.

Nothing else updates a message's status: claims, send outcomes, receipts,
replies, cancelling, and the device-wide changes (a removed device's waiting
and abandoned messages fail) are all made here, only ever forward (the rule
is `kurir.domain.status`), and each writes the ``message.status`` event it
causes (a reply also its ``message.reply``) in its own transaction, through
`kurir.store.events.record_events`. A change that changes nothing (a second
read receipt, a claim taken over from a dead worker) causes no event.

Batches stay set-based, never a statement per message: an UPDATE that returns
its rows does (claims, cancelling, failing a device's messages); an
executemany cannot, so outcomes and receipts read their rows first in one
SELECT (on PostgreSQL locked, in id order, so that no other process changes
them in between), decide in Python, and write by primary key. What an event
names beyond the change is read only when an endpoint may want it.

A change to a broadcast's message is also counted in the broadcast's totals
(`kurir.store.broadcast_totals`), from the status it left to the one it took,
so each change knows the status it left: an UPDATE that returns its rows
returns them as they are afterwards, so one that may find several statuses
runs once per status it may find.

What only a broadcast does to its messages (planning their due times,
holding them again on pause, failing what waits when it is cancelled) is in
`broadcasting`; its status changes go through the same functions.
"""

from kurir.store.lifecycle.provider import (
    apply_button_press,
    apply_receipts,
    fail_reported_messages,
)
from kurir.store.lifecycle.sending import (
    claim_due_messages,
    expire_claims,
    next_due_by_device,
    record_outcomes,
    release_claims,
)
from kurir.store.lifecycle.withdrawing import (
    cancel_message,
    fail_abandoned_messages_of_removed_devices,
    fail_messages_of_removed_device,
    fail_messages_where,
)

__all__ = [
    "apply_button_press",
    "apply_receipts",
    "cancel_message",
    "claim_due_messages",
    "expire_claims",
    "fail_abandoned_messages_of_removed_devices",
    "fail_messages_of_removed_device",
    "fail_messages_where",
    "fail_reported_messages",
    "next_due_by_device",
    "record_outcomes",
    "release_claims",
]
