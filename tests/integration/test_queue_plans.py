"""The queue's queries read index ranges, never every waiting message of a device.

With messages scheduled far ahead, a query that reads all of a device's
waiting messages still returns the right rows, only slowly: a million
scheduled made each claim take 146 ms. So these tests look at the plans
the databases choose for the statements the queue really runs: SQLite as
Kurir runs it (no ANALYZE), PostgreSQL with fresh statistics, as autovacuum
keeps them.
"""

import contextlib
import json
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection, event

from kurir.domain.status import MessageStatus
from kurir.store import Store, inbound, lifecycle, tables
from kurir.store.records import InboundMessage, ReplyRecorded
from tests.support.store_data import T0, add_account, hold_devices, new_message

RECIPIENT = "628111111111"  # every message's, from `new_message`
DEVICES = 20
SCHEDULED_PER_DEVICE = 1_000
QUEUE_INDEX = "ix_messages_status_device_id_due_at_id"
PRIMARY_KEY = "pk_messages"


async def fill_backlog(store: Store) -> list[int]:
    """Devices held by "w1", each with a far backlog, a few due messages and a stuck one."""
    account, device_ids = await add_account(store, devices=DEVICES)
    await hold_devices(store, "w1", device_ids, until=T0 + 60_000)

    def row(device: int, due_at: int, **changes: Any) -> dict[str, Any]:
        return msgspec.structs.asdict(new_message(account, device, due_at=due_at)) | changes

    rows = [
        row(device_ids[n % DEVICES], T0 + 86_400_000 + n)
        for n in range(DEVICES * SCHEDULED_PER_DEVICE)
    ]
    for device in device_ids:
        rows.extend(row(device, T0 - d) for d in range(3))
        rows.append(
            row(device, T0 - 10, status=MessageStatus.SENDING, lease_owner="w0", lease_until=T0 - 1)
        )

    def insert(connection: Connection) -> None:
        for start in range(0, len(rows), 5_000):
            connection.execute(tables.messages.insert(), rows[start : start + 5_000])

    await store.database.write(insert)
    if not store.is_sqlite:
        await store.database.write(lambda connection: connection.exec_driver_sql("ANALYZE"))
    return device_ids


def plans_of(connection: Connection, run: Any) -> list[Any]:
    """The plan of every statement ``run`` executes, rolled back afterwards."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        run(connection)
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    if connection.dialect.name == "sqlite":
        return [
            [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            for sql, params in statements
        ]
    explained = [
        connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).scalar()
        for sql, params in statements
    ]
    # asyncpg decodes the JSON itself.
    return [json.loads(plan) if isinstance(plan, str) else plan for plan in explained]


async def plans(store: Store, run: Any) -> list[Any]:
    class RolledBack(Exception):
        pass

    found: list[Any] = []

    def explain(connection: Connection) -> None:
        found.extend(plans_of(connection, run))
        raise RolledBack

    with contextlib.suppress(RolledBack):
        await store.database.write(explain)
    return found


def message_accesses(plan: Any) -> list[str]:
    """How each step of a plan reaches the messages table, in one normal form.

    ``range status device_id due_at`` is an index range on those columns,
    ``id`` a primary key lookup, and ``scan`` anything that reads further.
    """
    if isinstance(plan, list) and all(isinstance(step, str) for step in plan):
        return _sqlite_accesses(plan)
    return _postgres_accesses(plan[0]["Plan"])


def _sqlite_accesses(plan: list[str]) -> list[str]:
    accesses = []
    for step in plan:
        words = step.split()
        if len(words) < 2 or words[0] not in ("SEARCH", "SCAN") or words[1] == "devices":
            continue
        if words[1] not in ("messages", "candidate"):
            continue  # a subquery's rows, read by the step that made them
        if "INTEGER PRIMARY KEY" in step:
            accesses.append("id")
        elif words[0] == "SEARCH" and f"INDEX {QUEUE_INDEX} (" in step:
            terms = step.partition("(")[2].rstrip(")").split(" AND ")
            accesses.append(" ".join(["range", *(t.rstrip("=<>?") for t in terms)]))
        else:
            accesses.append(f"scan: {step}")
    return accesses


def _postgres_accesses(node: dict[str, Any]) -> list[str]:
    accesses = []
    # The update itself is a node on messages too; it writes the rows read below it.
    if node.get("Relation Name") == "messages" and node["Node Type"] != "ModifyTable":
        condition = node.get("Index Cond", "")
        if node.get("Index Name") == PRIMARY_KEY and condition.startswith("(id = "):
            accesses.append("id")
        elif node.get("Index Name") == QUEUE_INDEX and "Index" in node["Node Type"]:
            columns = [
                column
                for column in ("status", "device_id", "due_at")
                if f"({column})" in condition or f"({column} " in condition
            ]
            accesses.append(" ".join(["range", *columns]))
        else:
            accesses.append(f"scan: {node['Node Type']} {condition}")
    for child in node.get("Plans", []):
        accesses.extend(_postgres_accesses(child))
    return accesses


async def test_a_claim_reads_the_heads_of_index_ranges(store: Store) -> None:
    device_ids = await fill_backlog(store)

    def claim(connection: Connection) -> None:
        claimed = lifecycle.claim_due_messages(
            connection,
            worker="w1",
            device_limits={device: 2 for device in device_ids},
            now=T0,
            lease_ms=1_000,
        )
        # Each device: its stuck message (due earliest), then the oldest due one.
        assert len(claimed) == 2 * DEVICES

    plan, *after = await plans(store, claim)
    if store.is_sqlite:
        # The chosen rows are read first with their statuses (SQLite's
        # RETURNING cannot give them as they were), then the update chooses
        # them again, the same way.
        update, *after = after
        assert message_accesses(update) == message_accesses(plan), update
    # Then the events' read of the account's webhook endpoints, and no more messages.
    assert [message_accesses(other) for other in after] == [[]]
    accesses = message_accesses(plan)
    # Scheduled and queued messages: a range on status, device and due time;
    # a dead worker's: the device's sending ones; then the chosen rows by id.
    assert sorted(set(accesses)) == [
        "id",
        "range status device_id",
        "range status device_id due_at",
    ], plan
    assert accesses.count("range status device_id due_at") == 2, plan


async def test_the_next_due_time_is_read_at_the_heads_of_index_ranges(store: Store) -> None:
    device_ids = await fill_backlog(store)

    def next_due(connection: Connection) -> None:
        due = lifecycle.next_due_by_device(connection, device_ids)
        assert due == dict.fromkeys(device_ids, T0 - 2)  # the oldest due, before the lease end

    (plan,) = await plans(store, next_due)
    # One range per status and device; ordered by due time, the first row is the answer.
    assert message_accesses(plan) == ["range status device_id"] * 3, plan


async def test_the_plans_see_every_access(store: Store) -> None:
    # The checks above read the plans' words: here a plain count, which reads
    # the whole table, must show up as a scan.
    await fill_backlog(store)
    (plan,) = await plans(
        store,
        lambda connection: connection.execute(
            sa.select(sa.func.count()).where(tables.messages.c.recipient != "")
        ),
    )
    (access,) = message_accesses(plan)
    assert access.startswith("scan: ")


REPLY_INDEX = "ix_messages_device_id_recipient_sent_at_id"


async def test_a_text_reply_reads_the_latest_sent_button_message_from_its_index(
    store: Store,
) -> None:
    device_ids = await fill_backlog(store)
    # Every other message of the backlog was sent (each is a button message).
    sent = (
        tables.messages.update()
        .where(tables.messages.c.id % 2 == 0)
        .values(status=MessageStatus.SENT, sent_at=T0 - 1000 + tables.messages.c.id)
    )
    await store.database.write(lambda connection: connection.execute(sent))
    if not store.is_sqlite:
        await store.database.write(lambda connection: connection.exec_driver_sql("ANALYZE"))

    def answer(connection: Connection) -> None:
        message = InboundMessage(sender=RECIPIENT, type="text", at=T0, text="a")
        recorded = inbound.record_inbound(
            connection, account_id=1, device_id=device_ids[0], message=message, reply_window_ms=5000
        )
        assert isinstance(recorded, ReplyRecorded)

    lookup, *_ = await plans(store, answer)
    if isinstance(lookup[0], str):
        assert lookup == [
            f"SEARCH messages USING INDEX {REPLY_INDEX} (device_id=? AND recipient=? AND sent_at>?)"
        ]
    else:
        top = lookup[0]["Plan"]
        (scan,) = top["Plans"]
        assert (top["Node Type"], scan["Node Type"], scan["Index Name"]) == (
            "Limit",
            "Index Scan",
            REPLY_INDEX,
        ), top
        assert scan["Scan Direction"] == "Backward", top
