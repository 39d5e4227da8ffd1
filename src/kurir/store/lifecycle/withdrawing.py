"""Ending messages before they are sent: cancelled by their owner, failed by rule or removal."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.status import (
    DEVICE_REMOVED,
    MessageStatus,
)
from kurir.store.lifecycle.changes import (
    CANCELLABLE_NAMES,
    CLAIMABLE_NAMES,
    SENDING_NAMES,
    changed_rows,
)
from kurir.store.reading import get_message
from kurir.store.records import (
    MessageView,
)
from kurir.store.tables import devices, messages


def fail_messages_where(
    connection: Connection,
    which: sa.ColumnElement[bool],
    *,
    statuses: Sequence[str],
    reason: str,
    now: int,
    parameters: dict[str, Any] | None = None,
) -> int:
    """Fail the messages in ``statuses`` that ``which`` selects (a broadcast's, say); how many.

    Any lease is ended.
    """
    update = _failing(which, reason, now)
    return changed_rows(connection, update, statuses, MessageStatus.FAILED, now, parameters)


def cancel_message(
    connection: Connection, message_id: str, *, account_id: int, now: int
) -> MessageView | None:
    """Withdraw a message that no worker has claimed yet.

    Returns the message as it is afterwards (cancelled, or unchanged when it
    was too late), or None when the account has no such message.
    """
    changed_rows(
        connection,
        messages.update()
        .where(messages.c.message_id == message_id, messages.c.account_id == account_id)
        .values(status=MessageStatus.CANCELLED, cancelled_at=now),
        CANCELLABLE_NAMES,
        MessageStatus.CANCELLED,
        now,
    )
    return get_message(connection, message_id, account_id=account_id)


def _failing(which: sa.ColumnElement[bool], reason: str, now: int) -> sa.Update:
    """The messages ``which`` selects, failed for ``reason``, their leases ended."""
    return (
        messages.update()
        .where(which)
        .values(
            status=MessageStatus.FAILED,
            failed_at=now,
            last_error=reason,
            lease_owner=None,
            lease_until=None,
        )
    )


def fail_messages_of_removed_device(connection: Connection, *, device_id: int, now: int) -> None:
    """Fail what a device being removed will never send.

    Its waiting messages, and those left ``sending`` by a worker that died:
    nobody claims them for a removed device. A worker sending for it now
    fails what it holds when it learns of the removal (see `accounts`).
    """
    # A status at a time, each reads one range of the queue's index.
    waiting = _failing(messages.c.device_id == device_id, DEVICE_REMOVED, now)
    changed_rows(connection, waiting, CLAIMABLE_NAMES, MessageStatus.FAILED, now)
    abandoned = _failing(
        sa.and_(messages.c.device_id == device_id, messages.c.lease_until < now),
        DEVICE_REMOVED,
        now,
    )
    changed_rows(connection, abandoned, SENDING_NAMES, MessageStatus.FAILED, now)


def fail_abandoned_messages_of_removed_devices(connection: Connection, *, now: int) -> None:
    """Fail what a worker that died left ``sending`` for a since removed device.

    Nobody claims a removed device's messages, so once the lease is over
    they would stay ``sending`` for ever.
    """
    removed = list(
        connection.execute(
            sa.select(devices.c.id).where(devices.c.removed_at.is_not(None))
        ).scalars()
    )
    if not removed:
        return
    abandoned = sa.and_(messages.c.device_id.in_(removed), messages.c.lease_until < now)
    failed = _failing(abandoned, DEVICE_REMOVED, now)
    changed_rows(connection, failed, SENDING_NAMES, MessageStatus.FAILED, now)
