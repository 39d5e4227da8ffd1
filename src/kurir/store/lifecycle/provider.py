"""What the provider says after a send: receipts, pressed buttons, late failures."""

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import decode_content
from kurir.domain.events import MessageReplyEvent
from kurir.domain.status import (
    RECEIPTS,
    MessageStatus,
    Receipts,
)
from kurir.store.broadcast_totals import Move, count_moves
from kurir.store.events import NewEvent, record_events
from kurir.store.lifecycle.changes import (
    BY_PK,
    STATUSES,
    Change,
    for_update,
    record_changes,
)
from kurir.store.records import (
    ButtonPress,
    ProviderFailure,
    Receipt,
    ReplyRecorded,
)
from kurir.store.tables import devices, messages

_RECEIPT_ROWS = (
    sa.select(
        messages.c.id,
        messages.c.message_id,
        messages.c.device_id,
        messages.c.account_id,
        messages.c.status,
        messages.c.delivered_at,
        messages.c.read_at,
        messages.c.broadcast_id,
    )
    .where(messages.c.message_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(messages.c.id)
)

_WRITE_RECEIPTS = (
    messages.update()
    .where(BY_PK)
    .values(
        status=sa.bindparam("new_status"),
        delivered_at=sa.bindparam("delivered"),
        read_at=sa.bindparam("read"),
    )
)


def apply_receipts(connection: Connection, receipts: Sequence[Receipt]) -> list[None]:
    """Apply a batch of receipts, each to its device's message of that id, if it has one.

    Receipts only move a message forward and may arrive out of order (see
    `Receipts`); each one that moves a message causes its event.
    """
    wanted = [r for r in receipts if r.status in RECEIPTS]
    if not wanted:
        return [None] * len(receipts)
    query = for_update(connection, _RECEIPT_ROWS)
    found = connection.execute(query, {"ids": sorted({r.message_id for r in wanted})})
    rows = {(row.message_id, row.device_id): row for row in found}
    stored: dict[int, Receipts] = {}  # as read
    current: dict[int, Receipts] = {}  # as the batch's receipts leave them
    broadcast_of: dict[int, int] = {}
    changes: list[Change] = []
    for receipt in wanted:
        row = rows.get((receipt.message_id, receipt.device_id))
        if row is None:
            continue
        pk, message_id, device_id, account_id, status, delivered_at, read_at, broadcast_id = row
        if pk not in stored:
            stored[pk] = current[pk] = Receipts(STATUSES[status], delivered_at, read_at)
            if broadcast_id is not None:
                broadcast_of[pk] = broadcast_id
        before = current[pk]
        after = current[pk] = before.after(receipt.status, receipt.at)
        if after.status != before.status:
            changes.append(Change(account_id, after.status, receipt.at, message_id, device_id))
    writes = [
        {"pk": pk, "new_status": s.status, "delivered": s.delivered_at, "read": s.read_at}
        for pk, s in current.items()
        if s != stored[pk]
    ]
    if writes:
        connection.execute(_WRITE_RECEIPTS, writes)
    record_changes(connection, changes)
    count_moves(
        connection,
        (
            (broadcast_id, stored[pk].status, current[pk].status)
            for pk, broadcast_id in broadcast_of.items()
            if current[pk].status != stored[pk].status
        ),
    )
    return [None] * len(receipts)


class _StoredReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """A message's ``reply`` column."""

    button: str
    index: int
    at: int
    provider_message_id: str | None = None


_REPLY_ENCODER = msgspec.json.Encoder()
_REPLY_DECODER = msgspec.json.Decoder(_StoredReply)

_PRESSED_ROW = (
    sa.select(
        messages.c.id,
        messages.c.account_id,
        devices.c.public_id,
        messages.c.content,
        messages.c.reply,
        messages.c.status,
        messages.c.delivered_at,
        messages.c.read_at,
        messages.c.broadcast_id,
    )
    .join(devices, devices.c.id == messages.c.device_id)
    .where(
        messages.c.message_id == sa.bindparam("message_id"),
        messages.c.device_id == sa.bindparam("device_id"),
    )
)


def apply_button_press(
    connection: Connection, *, device_id: int, press: ButtonPress
) -> ReplyRecorded | None:
    """Record a pressed button as the message's reply, and the message as read.

    Causes a ``message.reply`` event, and a ``message.status`` one when the
    message was not read yet. Returns the reply, or None when nothing was
    recorded: the device has no button message of that id with that many
    buttons, or the provider delivered this press before.
    """
    query = for_update(connection, _PRESSED_ROW)
    row = connection.execute(
        query, {"message_id": press.message_id, "device_id": device_id}
    ).first()
    if row is None:
        return None
    content = decode_content(row.content)
    if not isinstance(content, ButtonMessage) or not 1 <= press.index <= len(content.buttons):
        return None
    if (
        press.provider_message_id is not None
        and row.reply is not None
        and _REPLY_DECODER.decode(row.reply).provider_message_id == press.provider_message_id
    ):
        return None
    label = content.buttons[press.index - 1]
    reply = _StoredReply(label, press.index, press.at, press.provider_message_id)
    before = Receipts(STATUSES[row.status], row.delivered_at, row.read_at)
    read = before.after(MessageStatus.READ, press.at)
    connection.execute(
        messages.update()
        .where(messages.c.id == row.id)
        .values(
            reply=_REPLY_ENCODER.encode(reply).decode(),
            status=read.status,
            delivered_at=read.delivered_at,
            read_at=read.read_at,
        )
    )
    if read.status != before.status:
        change = Change(row.account_id, read.status, press.at, press.message_id, device_id)
        record_changes(connection, [change])
        if row.broadcast_id is not None:
            count_moves(connection, [(row.broadcast_id, before.status, read.status)])
    replied = MessageReplyEvent(
        device=row.public_id,
        message_id=press.message_id,
        sender=press.sender,
        button_index=press.index,
        button_label=label,
        text=label,
        at=press.at,
    )
    record_events(connection, [NewEvent(row.account_id, device_id, replied)])
    return ReplyRecorded(press.message_id, press.index, label)


#: A provider's failure report moves only messages it may have been about: tried
#: a status at a time (the one it left is counted), the likelier first.
_FAILABLE = (MessageStatus.SENT.value, MessageStatus.SENDING.value)

_FAIL_REPORTED = (
    messages.update()
    .where(
        messages.c.message_id == sa.bindparam("mid"),
        messages.c.device_id == sa.bindparam("dev"),
        messages.c.status == sa.bindparam("was"),
    )
    .values(
        status=MessageStatus.FAILED,
        failed_at=sa.bindparam("at"),
        last_error=sa.bindparam("reason"),
        # A worker still sending it records nothing over this (its lease is gone).
        lease_owner=None,
        lease_until=None,
    )
    .returning(
        messages.c.account_id,
        messages.c.device_id,
        messages.c.message_id,
        messages.c.broadcast_id,
    )
)


def fail_reported_messages(
    connection: Connection, failures: Sequence[ProviderFailure]
) -> list[None]:
    """Fail each reported message that was sending or sent; record the status events."""
    changes: list[Change] = []
    moves: list[Move] = []
    for failure in failures:
        for was in _FAILABLE:
            row = connection.execute(
                _FAIL_REPORTED,
                {
                    "mid": failure.message_id,
                    "dev": failure.device_id,
                    "at": failure.at,
                    "reason": failure.reason,
                    "was": was,
                },
            ).first()
            if row is not None:
                changes.append(
                    Change(
                        row.account_id,
                        MessageStatus.FAILED,
                        failure.at,
                        row.message_id,
                        row.device_id,
                    )
                )
                if row.broadcast_id is not None:
                    moves.append((row.broadcast_id, was, MessageStatus.FAILED.value))
                break
    count_moves(connection, moves)
    record_changes(connection, changes)
    return [None] * len(failures)
