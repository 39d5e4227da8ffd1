"""Receipts only move a message forward, whatever order they arrive in."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kurir.domain.status import (
    RECEIPT_ORDER,
    MessageStatus,
    Receipts,
    status_after_receipt,
)

S = MessageStatus


@pytest.mark.parametrize(
    ("current", "receipt", "moved"),
    [
        (S.SENT, S.DELIVERED, S.DELIVERED),
        (S.SENT, S.READ, S.READ),
        (S.DELIVERED, S.READ, S.READ),
        # Never backwards, never sideways.
        (S.READ, S.DELIVERED, None),
        (S.DELIVERED, S.DELIVERED, None),
        (S.READ, S.READ, None),
        # A provider's "sent" is the send's outcome, not a receipt.
        (S.SENT, S.SENT, None),
        (S.SENT, S.FAILED, None),
        (S.SENT, S.QUEUED, None),
        # Only a sent message moves: one being sent waits for the worker's record.
        (S.SENDING, S.READ, None),
        (S.QUEUED, S.DELIVERED, None),
        (S.SCHEDULED, S.READ, None),
        (S.FAILED, S.DELIVERED, None),
        (S.CANCELLED, S.READ, None),
    ],
)
def test_the_status_a_receipt_moves_a_message_to(
    current: MessageStatus, receipt: MessageStatus, moved: MessageStatus | None
) -> None:
    assert status_after_receipt(current, receipt) == moved
    after = Receipts(current).after(receipt, 5)
    assert after.status == (moved or current)


def test_a_receipt_keeps_its_first_time_and_a_read_proves_delivery() -> None:
    read = Receipts(S.SENT).after(S.READ, 7)
    assert read == Receipts(S.READ, delivered_at=7, read_at=7)
    assert read.after(S.DELIVERED, 9).after(S.READ, 11) == read


def test_a_receipt_that_beats_the_send_record_waits_for_it() -> None:
    early = Receipts(S.SENDING).after(S.DELIVERED, 3)
    assert early == Receipts(S.SENDING, delivered_at=3)
    assert early.status_once_sent() == S.DELIVERED
    assert early.after(S.READ, 4).status_once_sent() == S.READ
    assert Receipts(S.SENDING).status_once_sent() == S.SENT


@pytest.mark.parametrize("status", [S.SCHEDULED, S.QUEUED, S.FAILED, S.CANCELLED])
def test_a_message_never_sent_keeps_no_receipt_times(status: MessageStatus) -> None:
    assert Receipts(status).after(S.READ, 3) == Receipts(status)


receipts = st.lists(
    st.tuples(st.sampled_from([S.DELIVERED, S.READ, S.SENT, S.FAILED]), st.integers(0, 10**6)),
    max_size=6,
)


@given(receipts, st.randoms())
def test_receipts_in_any_order_end_where_they_end_in_order(
    arrived: list[tuple[MessageStatus, int]], shuffler: random.Random
) -> None:
    def apply(start: Receipts, sequence: list[tuple[MessageStatus, int]]) -> Receipts:
        for receipt, at in sequence:
            start = start.after(receipt, at)
        return start

    shuffled = list(arrived)
    shuffler.shuffle(shuffled)
    furthest = max((RECEIPT_ORDER.index(r) for r, _ in arrived if r in RECEIPT_ORDER), default=0)
    expected = RECEIPT_ORDER[furthest]
    assert apply(Receipts(S.SENT), shuffled).status == expected
    assert apply(Receipts(S.SENT), arrived).status == expected
    # Some may come before the worker records the send, the rest after: the same end.
    before = len(shuffled) // 2
    sending = apply(Receipts(S.SENDING), shuffled[:before])
    once_sent = Receipts(sending.status_once_sent(), sending.delivered_at, sending.read_at)
    assert apply(once_sent, shuffled[before:]).status == expected
