"""The life of a message and the transitions it may make."""

import enum

import msgspec


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

#: Statuses a receipt from the provider may name; a provider's "sent" is the send's outcome.
RECEIPTS = (MessageStatus.DELIVERED, MessageStatus.READ)

#: A message in these has reached the provider, or is being handed to it: it keeps
#: the times of its receipts (a receipt may beat the worker's own "sent" record).
_TAKES_RECEIPT_TIMES = (MessageStatus.SENDING, *RECEIPT_ORDER)


class Receipts(msgspec.Struct, frozen=True):
    """A message's status and the times its receipts brought, as receipts change them."""

    status: MessageStatus
    delivered_at: int | None = None
    read_at: int | None = None

    def after(self, receipt: str, at: int) -> "Receipts":
        """What a ``receipt`` stamped ``at`` makes of this: only ever forward.

        A read also proves delivery, so it fills in a missing delivery time.
        The first time of each kind is kept: a repeated receipt changes nothing.
        """
        if receipt not in RECEIPTS or self.status not in _TAKES_RECEIPT_TIMES:
            return self
        moved = status_after_receipt(self.status, receipt)
        return Receipts(
            status=self.status if moved is None else moved,
            delivered_at=self.delivered_at if self.delivered_at is not None else at,
            read_at=(
                at if receipt == MessageStatus.READ and self.read_at is None else self.read_at
            ),
        )

    def status_once_sent(self) -> MessageStatus:
        """The status the worker's "sent" record gives: a receipt may have come first."""
        if self.read_at is not None:
            return MessageStatus.READ
        if self.delivered_at is not None:
            return MessageStatus.DELIVERED
        return MessageStatus.SENT


def status_after_receipt(status: str, receipt: str) -> MessageStatus | None:
    """The status a ``receipt`` moves a message in ``status`` to; None when it stays.

    Only a sent message moves, and only forward: a late "delivered" never
    undoes "read", and a receipt for a message still being sent waits for
    the worker's record (see `Receipts.status_once_sent`).
    """
    if receipt not in RECEIPTS or status not in RECEIPT_ORDER:
        return None
    if RECEIPT_ORDER.index(MessageStatus(receipt)) <= RECEIPT_ORDER.index(MessageStatus(status)):
        return None
    return MessageStatus(receipt)
