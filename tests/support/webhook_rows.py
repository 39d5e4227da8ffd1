"""Events, deliveries and attempts written straight into a database, as workers would leave them.

The delivery log and redelivery read and change rows the event writers and
the delivery workers make; these tests write such rows themselves.
"""

from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import DeliveryStatus, new_delivery_id, new_event_id
from kurir.store.deliveries import DEFAULT_DEADLINE_MS
from kurir.store.tables import (
    devices,
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)


class Attempt(msgspec.Struct, frozen=True):
    at: int
    status_code: int | None
    latency_ms: int = 12
    error: str | None = None
    response: str = ""


def add_delivery(
    connection: Connection,
    *,
    endpoint_public_id: str,
    device_public_id: str,
    event_at: int,
    status: DeliveryStatus,
    attempts: tuple[Attempt, ...] = (),
    event_type: str = "message.status",
) -> str:
    """An event of the endpoint's account and its delivery to the endpoint; the delivery's id."""
    endpoint = connection.execute(
        sa.select(webhook_endpoints.c.id, webhook_endpoints.c.account_id).where(
            webhook_endpoints.c.public_id == endpoint_public_id
        )
    ).one()
    device_id = connection.execute(
        sa.select(devices.c.id).where(devices.c.public_id == device_public_id)
    ).scalar_one()
    body = msgspec.json.encode(
        {"event": event_type, "device": device_public_id, "data": {"created": event_at // 1000}}
    ).decode()
    event_id = connection.execute(
        events.insert()
        .values(
            public_id=new_event_id(),
            account_id=endpoint.account_id,
            device_id=device_id,
            type=event_type,
            body=body,
            created_at=event_at,
        )
        .returning(events.c.id)
    ).scalar_one()
    public_id = new_delivery_id()
    last = attempts[-1] if attempts else None
    delivery_id = connection.execute(
        webhook_deliveries.insert()
        .values(
            public_id=public_id,
            account_id=endpoint.account_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            status=status,
            event_at=event_at,
            due_at=event_at if last is None else last.at + 1000,
            deadline_at=event_at + DEFAULT_DEADLINE_MS,
            attempts=len(attempts),
            last_attempt_at=None if last is None else last.at,
            last_status_code=None if last is None else last.status_code,
            last_error=None if last is None else last.error,
            delivered_at=last.at if status == DeliveryStatus.DELIVERED and last else None,
        )
        .returning(webhook_deliveries.c.id)
    ).scalar_one()
    if attempts:
        connection.execute(
            webhook_attempts.insert(),
            [
                {
                    "delivery_id": delivery_id,
                    "endpoint_id": endpoint.id,
                    "attempted_at": attempt.at,
                    "status_code": attempt.status_code,
                    "latency_ms": attempt.latency_ms,
                    "response": attempt.response,
                    "error": attempt.error,
                }
                for attempt in attempts
            ],
        )
    return public_id


def delivery_row(connection: Connection, public_id: str) -> Any:
    """The delivery's row as it is stored."""
    return connection.execute(
        sa.select(webhook_deliveries).where(webhook_deliveries.c.public_id == public_id)
    ).one()


def count_rows(connection: Connection, table: sa.Table, **where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return int(connection.execute(query).scalar_one())
