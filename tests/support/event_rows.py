"""Webhook endpoints put straight into the table, and the events and deliveries written for them."""

import json
import secrets
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from kurir.domain.events import EVENTS
from kurir.store import Store
from kurir.store.tables import devices, events, webhook_deliveries, webhook_endpoints
from tests.support.store_data import T0


class Written(msgspec.Struct, frozen=True):
    """An event as stored, with the endpoints it is to be delivered to."""

    type: str
    body: dict[str, Any]
    account_id: int
    device_id: int
    created_at: int
    #: ``(endpoint id, status, due_at, deadline_at)`` of each delivery, by endpoint.
    deliveries: list[tuple[int, str, int, int]]


async def add_endpoint(
    store: Store,
    account_id: int,
    *,
    kinds: Sequence[str] = EVENTS,
    device_ids: Sequence[str] | None = None,
    enabled: bool = True,
) -> int:
    """An endpoint of ``account_id`` hearing of ``kinds`` (of ``device_ids``, or all devices)."""
    row = {
        "public_id": f"wh_{secrets.token_hex(6)}",
        "account_id": account_id,
        "url": "http://127.0.0.1:9/hook",
        "events": json.dumps(list(kinds)),
        "devices": None if device_ids is None else json.dumps(list(device_ids)),
        "secret": "whsec_" + secrets.token_hex(16),
        "enabled": enabled,
        "created_at": T0,
        "updated_at": T0,
    }
    statement = webhook_endpoints.insert().values(row).returning(webhook_endpoints.c.id)
    endpoint: int = await store.database.write(
        lambda connection: connection.execute(statement).scalar_one()
    )
    return endpoint


async def public_id(store: Store, device_id: int) -> str:
    query = sa.select(devices.c.public_id).where(devices.c.id == device_id)
    found: str = await store.database.read(
        lambda connection: connection.execute(query).scalar_one()
    )
    return found


async def written_events(store: Store, after: int = 0) -> list[Written]:
    """Every event stored after the one with id ``after``, in order, with its deliveries."""

    def read(connection: sa.Connection) -> list[Written]:
        stored = connection.execute(
            sa.select(events).where(events.c.id > after).order_by(events.c.id)
        ).all()
        deliveries: dict[int, list[tuple[int, str, int, int]]] = {}
        for row in connection.execute(
            sa.select(webhook_deliveries)
            .where(webhook_deliveries.c.event_id > after)
            .order_by(webhook_deliveries.c.endpoint_id)
        ):
            assert row.account_id == next(e.account_id for e in stored if e.id == row.event_id)
            assert row.event_at == next(e.created_at for e in stored if e.id == row.event_id)
            deliveries.setdefault(row.event_id, []).append(
                (row.endpoint_id, row.status, row.due_at, row.deadline_at)
            )
        return [
            Written(
                type=row.type,
                body=json.loads(row.body),
                account_id=row.account_id,
                device_id=row.device_id,
                created_at=row.created_at,
                deliveries=deliveries.get(row.id, []),
            )
            for row in stored
        ]

    return await store.database.read(read)


async def last_event_id(store: Store) -> int:
    query = sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))
    found: int = await store.database.read(
        lambda connection: connection.execute(query).scalar_one()
    )
    return found


def statuses(written: Sequence[Written]) -> list[tuple[str, str, int]]:
    """``(message id, status, created)`` of each ``message.status`` event, in order."""
    return [
        (w.body["data"]["message_id"], w.body["data"]["status"], w.body["data"]["created"])
        for w in written
        if w.type == "message.status"
    ]
