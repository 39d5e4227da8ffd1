"""Receipts only move a message forward, applied in SQL by the store's one receipt statement."""

import pytest

from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting, lifecycle
from kurir.store.records import Receipt
from kurir.store.tables import messages
from tests.support.store_data import T0, add_account, message_rows, new_message

S = MessageStatus


@pytest.mark.parametrize(
    ("current", "receipt", "progress"),
    [
        (S.SENT, S.DELIVERED, True),
        (S.SENT, S.READ, True),
        (S.DELIVERED, S.READ, True),
        # Never backwards, never sideways.
        (S.READ, S.DELIVERED, False),
        (S.READ, S.SENT, False),
        (S.DELIVERED, S.DELIVERED, False),
        (S.READ, S.READ, False),
        (S.DELIVERED, S.SENT, False),
        # Only sent messages take receipts; others are not moved by them.
        (S.SENDING, S.DELIVERED, False),
        (S.QUEUED, S.READ, False),
        (S.FAILED, S.DELIVERED, False),
        (S.CANCELLED, S.READ, False),
        # Something that is not a receipt does not move a message.
        (S.SENT, S.FAILED, False),
        (S.SENT, S.QUEUED, False),
    ],
)
async def test_receipts_only_move_forward(
    store: Store, current: MessageStatus, receipt: MessageStatus, progress: bool
) -> None:
    account, (device,) = await add_account(store)
    message = new_message(account, device)
    await store.write(accepting.insert_messages, [message])
    to_current = messages.update().values(status=current)
    await store.database.write(lambda connection: connection.execute(to_current))

    other_device = device + 1  # a receipt names its device: another's changes nothing
    await store.write(
        lifecycle.apply_receipts,
        [Receipt(device_id=other_device, message_id=message.message_id, status=receipt, at=T0)],
    )
    (row,) = await message_rows(store)
    assert (row.status, row.delivered_at) == (current, None)

    await store.write(
        lifecycle.apply_receipts,
        [Receipt(device_id=device, message_id=message.message_id, status=receipt, at=T0 + 5)],
    )
    (row,) = await message_rows(store)
    assert row.status == (receipt if progress else current)
    takes_times = current in (S.SENDING, S.SENT, S.DELIVERED, S.READ) and receipt in (
        S.DELIVERED,
        S.READ,
    )
    assert row.delivered_at == (T0 + 5 if takes_times else None)
    assert row.read_at == (T0 + 5 if takes_times and receipt == S.READ else None)
