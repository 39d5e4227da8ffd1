"""The life of a message and the transitions it may make."""

import enum


class MessageStatus(enum.StrEnum):
    """Where a message is. The order of the last four is the order of receipts."""

    SCHEDULED = "scheduled"  # accepted, due later
    QUEUED = "queued"  # due now, or waiting for a retry
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # it reached the recipient's phone
    READ = "read"  # the recipient opened it
    FAILED = "failed"  # given up on; last_error says why
    CANCELLED = "cancelled"  # withdrawn by the sender before it was sent


#: A worker may claim these once they are due.
CLAIMABLE = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)

#: The sender may still withdraw these.
CANCELLABLE = CLAIMABLE

#: The ``last_error`` of a message that failed because its device was removed.
DEVICE_REMOVED = "the device was removed"

#: Receipts only move a message forward: a late "delivered" never undoes "read".
RECEIPT_ORDER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
