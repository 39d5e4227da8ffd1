"""The list of an account's messages, newest first, filtered and paged by cursor.

One query for the API's ``GET /messages`` and for anything else that lists
messages. It walks the primary key backwards (ids are given in the order
messages are stored, so newest first is that key's reverse order) and stops
at the page's end: no sort, and a page costs the rows it passes over, not
the table. A broadcast's messages are a range of that key (they are stored
together), so its filter reads only that range. No other index is used on
purpose: each index on messages is paid for by every accepted message, and
the queue's index, led by status, would make a filter on a common status
read and sort all of that status's rows.
"""

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.content import MessageKind
from kurir.domain.status import MessageStatus
from kurir.store.reading import VIEW_COLUMNS
from kurir.store.records import MessageView
from kurir.store.tables import devices, messages


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
    # Written so that no index applies to them (`|| ''`, `+ 0`): the queue's
    # index (led by status) or the idempotency keys' (led by account) would
    # have a database read every row of a status or an account, then sort.
    status = messages.c.status + sa.literal("", literal_execute=True)
    account = messages.c.account_id + sa.literal(0, literal_execute=True)
    query = (
        sa.select(messages.c.id.label("cursor"), *VIEW_COLUMNS)
        .select_from(messages.join(devices, devices.c.id == messages.c.device_id))
        .where(account == account_id)
        .order_by(messages.c.id.desc())
        .limit(limit)
    )
    if where.broadcast is not None:
        query = query.where(
            messages.c.id.between(where.broadcast.first, where.broadcast.last),
            messages.c.broadcast_id == where.broadcast.broadcast_id,
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
