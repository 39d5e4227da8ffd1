"""Webhook deliveries: the outbox's rows after they are written, and their attempts.

The workers claim deliveries and record their attempts; the endpoint's owner
reads the log and sends deliveries again by hand.
"""

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import DeliveryStatus
from kurir.store.events import DEFAULT_DEADLINE_MS
from kurir.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from kurir.store.webhook_records import AttemptView, DeliveryView, RedeliveryRefused

# -- the owner's side: the delivery log and redelivery

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
    endpoint_id = _endpoint_id(connection, endpoint_public_id, account_id)
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
    endpoint_id = _endpoint_id(connection, endpoint_public_id, account_id)
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


def redeliver_one(
    connection: Connection,
    endpoint_public_id: str,
    delivery_public_id: str,
    *,
    account_id: int,
    now: int,
    deadline_ms: int = DEFAULT_DEADLINE_MS,
) -> int | RedeliveryRefused | None:
    """Send one delivery again, whatever became of it, unless a worker has it now.

    1 when done; None if the endpoint or the delivery is not the account's.
    See `_redelivered` for what a redelivery resets.
    """
    endpoint = _endpoint(connection, endpoint_public_id, account_id)
    if endpoint is None:
        return None
    found = connection.execute(
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.status).where(
            webhook_deliveries.c.public_id == delivery_public_id,
            webhook_deliveries.c.endpoint_id == endpoint.id,
        )
    ).first()
    if found is None:
        return None
    if not endpoint.enabled:
        return _disabled(endpoint_public_id)
    done = connection.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.id == found.id,
            # A worker's claim may have come since the read above.
            webhook_deliveries.c.status != DeliveryStatus.DELIVERING,
        )
        .values(**_redelivered(now, deadline_ms))
    )
    if done.rowcount == 0:
        return RedeliveryRefused(
            f"delivery {delivery_public_id} is being delivered now; redeliver it once that is done"
        )
    return 1


def redeliver_dead_since(
    connection: Connection,
    endpoint_public_id: str,
    *,
    account_id: int,
    since: int,
    now: int,
    deadline_ms: int = DEFAULT_DEADLINE_MS,
) -> int | RedeliveryRefused | None:
    """Send again every dead delivery of the endpoint whose event is at or after ``since``.

    How many; None if the account has no such endpoint.
    """
    endpoint = _endpoint(connection, endpoint_public_id, account_id)
    if endpoint is None:
        return None
    if not endpoint.enabled:
        return _disabled(endpoint_public_id)
    done = connection.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.endpoint_id == endpoint.id,
            webhook_deliveries.c.status == DeliveryStatus.DEAD,
            webhook_deliveries.c.event_at >= since,
        )
        .values(**_redelivered(now, deadline_ms))
    )
    return int(done.rowcount)


def _redelivered(now: int, deadline_ms: int) -> dict[str, Any]:
    """A delivery sent again: due now, as if new, with a whole deadline from now.

    The deadline counts from the redelivery, not from the event, which is
    usually past its own deadline already (that is why it is dead): a
    receiver fixed after an outage gets the same patience as for a new event.
    The attempts made so far stay in the log; the count starts again, as the
    backoff does. The ``webhook-id`` stays the delivery's, so a receiver
    that did process it can tell.
    """
    return {
        "status": DeliveryStatus.PENDING,
        "due_at": now,
        "deadline_at": now + deadline_ms,
        "attempts": 0,
        "lease_owner": None,
        "lease_until": None,
        "delivered_at": None,
    }


def _disabled(endpoint_public_id: str) -> RedeliveryRefused:
    return RedeliveryRefused(
        f"webhook {endpoint_public_id} is disabled; enable it before redelivering"
    )


def _endpoint(connection: Connection, public_id: str, account_id: int) -> Any:
    return connection.execute(
        sa.select(webhook_endpoints.c.id, webhook_endpoints.c.enabled).where(
            webhook_endpoints.c.public_id == public_id,
            webhook_endpoints.c.account_id == account_id,
        )
    ).first()


def _endpoint_id(connection: Connection, public_id: str, account_id: int) -> int | None:
    found = _endpoint(connection, public_id, account_id)
    return None if found is None else int(found.id)


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
