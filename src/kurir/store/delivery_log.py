"""An endpoint's delivery log as its owner reads it: newest event first, with attempts.

Reads only; every change of a delivery's state is `kurir.store.deliveries`'.
"""

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import DeliveryStatus
from kurir.store.deliveries import endpoint_id_of
from kurir.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from kurir.store.webhook_records import AttemptView, DeliveryView

#: The largest part of a log cursor; times and row ids are far below it.
_MAX_CURSOR_PART = 2**62

_DELIVERY_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.public_id,
    events.c.type.label("event_type"),
    events.c.body,
    webhook_deliveries.c.status,
    webhook_deliveries.c.event_at,
    webhook_deliveries.c.due_at,
    webhook_deliveries.c.deadline_at,
    webhook_deliveries.c.delivered_at,
)
_WITH_EVENT = webhook_deliveries.join(events, events.c.id == webhook_deliveries.c.event_id)


class LogCursor(NamedTuple):
    """Where a page of a delivery log ended: the last delivery's event time and row id."""

    event_at: int
    id: int

    def __str__(self) -> str:
        return f"{self.event_at}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> "LogCursor | None":
        """The cursor ``str()`` wrote, or None for any other text."""
        event_at, _, row_id = text.partition("-")
        parts = [_whole_number(event_at), _whole_number(row_id)]
        if parts[0] is None or parts[1] is None:
            return None
        return cls(parts[0], parts[1])


def delivery_log(
    connection: Connection,
    endpoint_public_id: str,
    *,
    account_id: int,
    limit: int,
    before: LogCursor | None = None,
    status: DeliveryStatus | None = None,
) -> list[DeliveryView] | None:
    """The endpoint's deliveries, newest event first, each with its attempts; None if no endpoint.

    Ordered by event time, then row, as the (endpoint, event time) index reads
    them; a redelivered delivery keeps its place.
    """
    endpoint_id = endpoint_id_of(connection, endpoint_public_id, account_id)
    if endpoint_id is None:
        return None
    query = sa.select(*_DELIVERY_COLUMNS).select_from(_WITH_EVENT)
    query = query.where(webhook_deliveries.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(webhook_deliveries.c.status == status)
    if before is not None:
        query = query.where(
            sa.or_(
                webhook_deliveries.c.event_at < before.event_at,
                sa.and_(
                    webhook_deliveries.c.event_at == before.event_at,
                    webhook_deliveries.c.id < before.id,
                ),
            )
        )
    query = query.order_by(
        webhook_deliveries.c.event_at.desc(), webhook_deliveries.c.id.desc()
    ).limit(limit)
    rows = connection.execute(query).all()
    attempts = _attempts(connection, [row.id for row in rows])
    return [_delivery(row, attempts.get(row.id, ())) for row in rows]


def get_delivery(
    connection: Connection, endpoint_public_id: str, delivery_public_id: str, *, account_id: int
) -> DeliveryView | None:
    """One delivery of the account's endpoint, with its attempts; None if either is not there."""
    endpoint_id = endpoint_id_of(connection, endpoint_public_id, account_id)
    if endpoint_id is None:
        return None
    row = connection.execute(
        sa.select(*_DELIVERY_COLUMNS)
        .select_from(_WITH_EVENT)
        .where(
            webhook_deliveries.c.public_id == delivery_public_id,
            webhook_deliveries.c.endpoint_id == endpoint_id,
        )
    ).first()
    if row is None:
        return None
    return _delivery(row, _attempts(connection, [row.id]).get(row.id, ()))


def deliveries_of_message(
    connection: Connection, message_id: str, *, account_id: int
) -> list[tuple[str, DeliveryView]]:
    """The deliveries of the events about the account's message, oldest first, by endpoint.

    Each is ``(endpoint's public id, delivery)``; events name their message
    (an indexed column), so this reads no other message's events.
    """
    rows = connection.execute(
        sa.select(webhook_endpoints.c.public_id.label("endpoint"), *_DELIVERY_COLUMNS)
        .select_from(
            _WITH_EVENT.join(
                webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id
            )
        )
        .where(events.c.message_id == message_id, events.c.account_id == account_id)
        .order_by(webhook_deliveries.c.event_at, webhook_deliveries.c.id)
    ).all()
    attempts = _attempts(connection, [row.id for row in rows])
    return [(row.endpoint, _delivery(row, attempts.get(row.id, ()))) for row in rows]


def _attempts(
    connection: Connection, delivery_ids: list[int]
) -> dict[int, tuple[AttemptView, ...]]:
    """Each delivery's attempts, oldest first, read from the (delivery, id) index."""
    if not delivery_ids:
        return {}
    rows = connection.execute(
        sa.select(
            webhook_attempts.c.delivery_id,
            webhook_attempts.c.attempted_at,
            webhook_attempts.c.status_code,
            webhook_attempts.c.latency_ms,
            webhook_attempts.c.error,
            webhook_attempts.c.response,
        )
        .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.id)
    )
    found: dict[int, list[AttemptView]] = {}
    for row in rows:
        found.setdefault(row.delivery_id, []).append(
            AttemptView(
                attempted_at=row.attempted_at,
                status_code=row.status_code,
                latency_ms=row.latency_ms,
                error=row.error,
                response=row.response,
            )
        )
    return {delivery_id: tuple(attempts) for delivery_id, attempts in found.items()}


def _delivery(row: Any, attempts: tuple[AttemptView, ...]) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        public_id=row.public_id,
        event_type=row.event_type,
        body=row.body,
        status=row.status,
        event_at=row.event_at,
        due_at=row.due_at,
        deadline_at=row.deadline_at,
        attempts=attempts,
        delivered_at=row.delivered_at,
    )


def _whole_number(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(_MAX_CURSOR_PART)):
        return None
    value = int(text)
    return value if value <= _MAX_CURSOR_PART else None
