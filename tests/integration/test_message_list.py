"""The message list: every filter keeps exactly its messages, newest first, paged without gaps.

And SQLite (without statistics) answers it by walking the primary key
backwards from the page's cursor, stopping at the page's end: never a sort
of the account's messages (as the queue's index, led by status, would lead
to), so a page costs about the rows it passes over. PostgreSQL, with fresh
statistics, chooses the same walk or an index of a rare filter, never a
read of the whole table.
"""

import random
from typing import Any

import msgspec
import pytest
from sqlalchemy import Connection

from kurir.domain.content import MessageKind
from kurir.domain.ids import new_message_id
from kurir.domain.status import MessageStatus
from kurir.store import Store, tables
from kurir.store.message_list import BroadcastRange, MessageFilter, list_messages
from tests.integration.test_queue_plans import plans
from tests.support.store_data import T0, add_account, new_message

PER_ACCOUNT = 6_000
RECIPIENTS = ("628111111111", "628122222222", "628133333333")
CONTENTS = {
    MessageKind.TEXT: '{"type":"text","message":"Halo"}',
    MessageKind.MEDIA: '{"type":"media","url":"https://example.com/a.pdf"}',
    MessageKind.BUTTON: '{"type":"button","header":"H","body":"B","footer":"F","buttons":["A"]}',
}
STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED)


class Filled(msgspec.Struct, frozen=True):
    account: int
    devices: list[int]
    #: Every row of the account, as dicts, in id order.
    rows: list[dict[str, Any]]


async def fill(store: Store) -> Filled:
    """Two accounts' messages interleaved, of every kind, status and recipient, a second apart."""
    ours, our_devices = await add_account(store, devices=2)
    theirs, their_devices = await add_account(store, devices=1)
    chance = random.Random(13)
    rows = []
    for n in range(2 * PER_ACCOUNT):
        account, device_ids = (ours, our_devices) if n % 2 else (theirs, their_devices)
        kind = chance.choice(list(CONTENTS))
        message = new_message(account, chance.choice(device_ids), content=CONTENTS[kind])
        rows.append(
            msgspec.structs.asdict(message)
            | {
                "message_id": new_message_id(),
                "recipient": chance.choice(RECIPIENTS),
                "status": chance.choice(STATUSES),
                "created_at": T0 + n * 1000,
                "broadcast_id": None,
            }
        )

    def insert(connection: Connection) -> list[dict[str, Any]]:
        for start in range(0, len(rows), 5_000):
            connection.execute(tables.messages.insert(), rows[start : start + 5_000])
        return [
            row._asdict()
            for row in connection.execute(
                tables.messages.select()
                .where(tables.messages.c.account_id == ours)
                .order_by(tables.messages.c.id)
            )
        ]

    stored = await store.database.write(insert)
    if not store.is_sqlite:
        await store.database.write(lambda connection: connection.exec_driver_sql("ANALYZE"))
    return Filled(ours, our_devices, stored)


def expected(filled: Filled, where: MessageFilter) -> list[str]:
    """The message ids ``where`` keeps, newest first, as the rules say."""
    kept = []
    for row in reversed(filled.rows):
        if (
            (where.device_id is None or row["device_id"] == where.device_id)
            and (where.status is None or row["status"] == where.status)
            and (where.recipient is None or row["recipient"] == where.recipient)
            and (where.kind is None or row["content"] == CONTENTS[where.kind])
            and (where.created_from is None or row["created_at"] >= where.created_from)
            and (where.created_before is None or row["created_at"] < where.created_before)
        ):
            kept.append(row["message_id"])
    return kept


async def every_page(store: Store, account: int, where: MessageFilter, limit: int) -> list[str]:
    found: list[str] = []
    before = None
    while True:
        page = await store.read(
            list_messages, account_id=account, limit=limit, before=before, where=where
        )
        found.extend(view.message_id for _, view in page)
        if len(page) < limit:
            return found
        before = page[-1][0]


def filters(filled: Filled) -> list[MessageFilter]:
    middle = T0 + PER_ACCOUNT * 1000
    return [
        MessageFilter(),
        MessageFilter(device_id=filled.devices[0]),
        MessageFilter(status=MessageStatus.FAILED),
        MessageFilter(recipient=RECIPIENTS[1]),
        MessageFilter(kind=MessageKind.MEDIA),
        MessageFilter(created_from=middle, created_before=middle + 600_000),
        MessageFilter(
            device_id=filled.devices[1],
            status=MessageStatus.READ,
            recipient=RECIPIENTS[0],
            kind=MessageKind.BUTTON,
            created_from=T0 + 2_000_000,
        ),
    ]


async def test_each_filter_keeps_its_messages_newest_first_across_pages(store: Store) -> None:
    filled = await fill(store)
    for where in filters(filled):
        want = expected(filled, where)
        assert want, where  # each filter keeps some, and not all
        assert len(want) < PER_ACCOUNT or where == MessageFilter()
        assert await every_page(store, filled.account, where, limit=500) == want, where


async def test_a_broadcast_is_read_from_its_range_of_the_primary_key(store: Store) -> None:
    filled = await fill(store)
    ids = [row["id"] for row in filled.rows[100:200]]
    chosen = ids[::3]
    messages = tables.messages
    # Other broadcasts' messages fill the broadcasts' index, as on a busy gateway.
    others = messages.update().where(messages.c.id.not_in(ids)).values(broadcast_id=9)
    ours = messages.update().where(messages.c.id.in_(chosen)).values(broadcast_id=7)

    def mark(connection: Connection) -> None:
        connection.execute(others)
        connection.execute(ours)
        if not store.is_sqlite:
            connection.exec_driver_sql("ANALYZE messages")

    await store.database.write(mark)
    where = MessageFilter(broadcast=BroadcastRange(broadcast_id=7, first=ids[0], last=ids[-1]))
    page = await store.read(list_messages, account_id=filled.account, limit=500, where=where)
    assert [cursor for cursor, _ in page] == sorted(chosen, reverse=True)
    (plan,) = await plans(
        store,
        lambda connection: list_messages(
            connection, account_id=filled.account, limit=50, where=where
        ),
    )
    # PostgreSQL knows from its statistics that this broadcast is small, and
    # may read it by the broadcasts' index and sort it; either reads only it.
    assert accesses(plan) in (
        ["primary key range"],
        ["sort: ['messages.id DESC']", "broadcast index"],
    ), plan


@pytest.mark.parametrize("paged", [False, True])
async def test_every_filter_walks_the_primary_key_newest_first(store: Store, paged: bool) -> None:
    filled = await fill(store)
    before = filled.rows[len(filled.rows) // 2]["id"] if paged else None
    for where in filters(filled):
        (plan,) = await plans(
            store,
            lambda connection, where=where: list_messages(
                connection, account_id=filled.account, limit=50, before=before, where=where
            ),
        )
        if store.is_sqlite:
            assert accesses(plan) == ["primary key backwards"], (where, plan)
        else:
            # PostgreSQL chooses by its statistics: the key backwards for
            # filters that keep many, an index of a rare combination (then a
            # sort of what it keeps); never every row.
            found = accesses(plan)
            assert not any(access.startswith("other: Seq Scan") for access in found), found
            assert where != MessageFilter() or found == ["primary key backwards"], found


def accesses(plan: Any) -> list[str]:
    """How the plan reaches messages: ``primary key backwards``, ``… range``, or what it does."""
    if isinstance(plan, list) and all(isinstance(step, str) for step in plan):
        found = []
        for step in plan:
            if "TEMP B-TREE" in step:
                found.append(f"sort: {step}")
            elif " messages" in step:
                if step.startswith("SCAN messages") and "USING" not in step:
                    found.append("primary key backwards")
                elif "INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in step:
                    found.append("primary key range")
                elif "INTEGER PRIMARY KEY (rowid<?)" in step:
                    found.append("primary key backwards")
                else:
                    found.append(f"other: {step}")
        return found
    return _postgres(plan[0]["Plan"])


def _postgres(node: dict[str, Any]) -> list[str]:
    found = []
    kind = node["Node Type"]
    if kind in ("Sort", "Incremental Sort"):
        found.append(f"sort: {node.get('Sort Key')}")
    if node.get("Relation Name") == "messages":
        if node.get("Index Name") == "ix_messages_broadcast_id_status_due_at_id" and (
            "broadcast_id = " in node.get("Index Cond", "")
        ):
            found.append("broadcast index")
        elif node.get("Index Name") == "pk_messages" and node.get("Scan Direction") == "Backward":
            condition = node.get("Index Cond", "")
            found.append("primary key range" if ">=" in condition else "primary key backwards")
        else:
            found.append(f"other: {kind} {node.get('Index Name')}")
    for child in node.get("Plans", []):
        found.extend(_postgres(child))
    return found
