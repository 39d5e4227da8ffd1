"""The outbox's claim and next-due queries read index ranges, never an endpoint's whole backlog.

As for messages (see test_queue_plans): the plans the databases choose for the
statements the deliverer really runs, with endpoints whose deliveries wait far
ahead and whose delivered ones pile up behind.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import new_delivery_id, new_event_id
from kurir.store import Store, deliveries, tables
from tests.integration.test_queue_plans import plans
from tests.support.outbox import add_endpoint
from tests.support.store_data import T0, add_account

ENDPOINTS = 10
QUEUE_INDEX = "ix_webhook_deliveries_status_endpoint_id_due_at_id"
PRIMARY_KEY = "pk_webhook_deliveries"


async def fill_backlog(store: Store) -> list[int]:
    """Endpoints each with far retries, a few due, one a dead worker left, and a long history."""
    account, (device,) = await add_account(store)
    endpoints = [
        (await add_endpoint(store, account, "http://x.test/"))[0] for _ in range(ENDPOINTS)
    ]

    def fill(connection: Connection) -> None:
        event = connection.execute(
            sa.insert(tables.events)
            .values(
                public_id=new_event_id(),
                account_id=account,
                device_id=device,
                type="t",
                body="{}",
                created_at=T0,
            )
            .returning(tables.events.c.id)
        ).scalar_one()

        def row(endpoint: int, status: str, due_at: int, **more: Any) -> dict[str, Any]:
            return {
                "public_id": new_delivery_id(),
                "account_id": account,
                "endpoint_id": endpoint,
                "event_id": event,
                "status": status,
                "event_at": due_at,
                "due_at": due_at,
                "deadline_at": T0 + 86_400_000,
                **more,
            }

        rows = []
        for endpoint in endpoints:
            rows += [row(endpoint, "pending", T0 + 60_000 + n) for n in range(1_000)]
            rows += [row(endpoint, "pending", T0 - n) for n in range(3)]
            rows += [row(endpoint, "delivering", T0 - 9, lease_owner="w0", lease_until=T0 - 1)]
            rows += [row(endpoint, "delivered", T0 - n) for n in range(1_000)]
        for start in range(0, len(rows), 5_000):
            connection.execute(tables.webhook_deliveries.insert(), rows[start : start + 5_000])

    await store.database.write(fill)
    if not store.is_sqlite:
        await store.database.write(lambda connection: connection.exec_driver_sql("ANALYZE"))
    return endpoints


def delivery_accesses(plan: Any) -> list[str]:
    """How each step reaches the deliveries: ``range``, ``id``, or ``scan: …`` for anything more."""
    if isinstance(plan, list) and all(isinstance(step, str) for step in plan):
        accesses = []
        for step in plan:
            words = step.split()
            if words[0] not in ("SEARCH", "SCAN") or words[1] not in (
                "webhook_deliveries",
                "candidate",
            ):
                continue
            if "INTEGER PRIMARY KEY" in step:
                accesses.append("id")
            elif words[0] == "SEARCH" and f"INDEX {QUEUE_INDEX} (" in step:
                accesses.append("range")
            else:
                accesses.append(f"scan: {step}")
        return accesses
    return _postgres_accesses(plan[0]["Plan"])


def _postgres_accesses(node: dict[str, Any]) -> list[str]:
    accesses = []
    if node.get("Relation Name") == "webhook_deliveries" and node["Node Type"] != "ModifyTable":
        if node.get("Index Name") == PRIMARY_KEY:
            accesses.append("id")
        elif node.get("Index Name") == QUEUE_INDEX:
            accesses.append("range")
        else:
            accesses.append(f"scan: {node['Node Type']}")
    for child in node.get("Plans", []):
        accesses.extend(_postgres_accesses(child))
    return accesses


async def test_a_claim_reads_the_heads_of_index_ranges(store: Store) -> None:
    endpoints = await fill_backlog(store)

    def claim(connection: Connection) -> None:
        claimed = deliveries.claim_due_deliveries(
            connection,
            worker="w1",
            now=T0,
            lease_ms=1_000,
            per_endpoint=2,
            busy={endpoints[0]: 1},
            limit=100,
        )
        # Each endpoint: the dead worker's, then the oldest due; one slot of the first is busy.
        assert len(claimed) == 2 * ENDPOINTS - 1

    claim_plan, details_plan = await plans(store, claim)
    accesses = delivery_accesses(claim_plan)
    assert sorted(set(accesses)) == ["id", "range"], claim_plan
    assert delivery_accesses(details_plan) == ["id"], details_plan


async def test_the_next_due_time_is_read_at_the_heads_of_index_ranges(store: Store) -> None:
    endpoints = await fill_backlog(store)

    def next_due(connection: Connection) -> None:
        assert deliveries.next_due(connection, exclude=endpoints[:1]) == T0 - 2

    (plan,) = await plans(store, next_due)
    assert delivery_accesses(plan) == ["range", "range"], plan
