"""The list of an account's messages, newest first, filtered and paged by cursor.

One query for the API's ``GET /messages`` and for anything else that lists
messages. Newest first is the primary key's reverse order (ids are given in
the order messages are stored), so a page walks that key backwards from its
cursor and stops at its end: no sort, and a page costs the rows it passes
over. A broadcast's messages are a range of that key (they are stored
together), so its filter reads only that range. No index is added for the
filters: each index on messages is paid for by every accepted message. A
filter that keeps few of the account's messages therefore reads further
back; on PostgreSQL the planner's statistics take an existing index instead
when one keeps few (a rare status on a device, a small broadcast).
"""

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.content import MessageKind
from kurir.domain.status import MessageStatus
from kurir.store.reading import VIEW_COLUMNS, VIEW_FROM
from kurir.store.records import MessageView
from kurir.store.tables import messages


class BroadcastRange(msgspec.Struct, frozen=True, kw_only=True):
    """A broadcast's id and the row ids of its first and last message."""

    broadcast_id: int
    first: int
    last: int


class MessageFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What a list keeps; every field given must match. Times are epoch milliseconds."""

    device_id: int | None = None
    status: MessageStatus | None = None
    recipient: str | None = None
    kind: MessageKind | None = None
    #: Accepted at or after this time, and before ``created_before``.
    created_from: int | None = None
    created_before: int | None = None
    broadcast: BroadcastRange | None = None


def _kind_condition(kind: MessageKind) -> sa.ColumnElement[bool]:
    # The content's tag is encoded first (see kurir.domain.content), so its
    # kind is its prefix, read without decoding the JSON.
    return messages.c.content.like(sa.literal(f'{{"type":"{kind}",%', literal_execute=True))


def list_messages(
    connection: Connection,
    *,
    account_id: int,
    limit: int,
    before: int | None = None,
    where: MessageFilter = MessageFilter(),  # noqa: B008 (frozen, so sharing it is safe)
) -> list[tuple[int, MessageView]]:
    """The account's messages matching ``where``, newest first, each with its cursor.

    ``before`` is the previous page's last cursor (a row id).
    """
    # SQLite runs without statistics (Kurir never ANALYZEs it): it would take
    # the queue's index (led by status), the idempotency keys' (led by account)
    # or the broadcasts' for an equality on their first column, reading all of a
    # status, an account or the broadcasts, then sorting. Written as `|| ''`
    # and `+ 0`, no index applies. PostgreSQL has statistics and chooses well
    # (an index for a rare status, say), as long as it can see the columns.
    status: sa.ColumnElement[str] = messages.c.status
    account: sa.ColumnElement[int] = messages.c.account_id
    broadcast_id: sa.ColumnElement[int | None] = messages.c.broadcast_id
    if connection.dialect.name == "sqlite":
        status = status + sa.literal("", literal_execute=True)
        account = account + sa.literal(0, literal_execute=True)
        broadcast_id = broadcast_id + sa.literal(0, literal_execute=True)
    query = (
        sa.select(messages.c.id.label("cursor"), *VIEW_COLUMNS)
        .select_from(VIEW_FROM)
        .where(account == account_id)
        .order_by(messages.c.id.desc())
        .limit(limit)
    )
    if where.broadcast is not None:
        query = query.where(
            messages.c.id.between(where.broadcast.first, where.broadcast.last),
            broadcast_id == where.broadcast.broadcast_id,
        )
    if before is not None:
        query = query.where(messages.c.id < before)
    if where.device_id is not None:
        query = query.where(messages.c.device_id == where.device_id)
    if where.status is not None:
        query = query.where(status == str(where.status))
    if where.recipient is not None:
        query = query.where(messages.c.recipient == where.recipient)
    if where.kind is not None:
        query = query.where(_kind_condition(where.kind))
    if where.created_from is not None:
        query = query.where(messages.c.created_at >= where.created_from)
    if where.created_before is not None:
        query = query.where(messages.c.created_at < where.created_before)
    found = []
    for row in connection.execute(query):
        values = row._asdict()
        cursor = values.pop("cursor")
        found.append((int(cursor), MessageView(**values)))
    return found
