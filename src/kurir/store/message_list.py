"""An account's messages, filtered, newest first, paged by cursor.

The one query behind the dashboard's message list and ``GET /messages``.
Each filter narrows an indexed range: by device (``device_id, id``), by
recipient (``account_id, recipient, id``), else the account's
(``account_id, id``), read backwards from the cursor; status, kind and time
are conditions on the rows that range yields.
"""

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.content import MessageKind
from kurir.store.reading import VIEW_COLUMNS, VIEW_FROM
from kurir.store.records import MessageView
from kurir.store.tables import messages


class MessageFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What a list is narrowed to; None for no condition."""

    device_id: int | None = None
    status: str | None = None
    recipient: str | None = None
    kind: MessageKind | None = None
    #: Created at or after, and before, these times (ms).
    created_from: int | None = None
    created_until: int | None = None


def filtered_messages(
    connection: Connection,
    *,
    account_id: int,
    where: MessageFilter,
    limit: int,
    before: int | None = None,
) -> list[tuple[int, MessageView]]:
    """The page: ``(cursor, message)`` pairs; the last cursor is ``before`` of the next."""
    query = (
        sa.select(messages.c.id.label("cursor"), *VIEW_COLUMNS)
        .select_from(VIEW_FROM)
        .where(messages.c.account_id == account_id)
        .order_by(messages.c.id.desc())
        .limit(limit)
    )
    if where.device_id is not None:
        query = query.where(messages.c.device_id == where.device_id)
    if where.recipient is not None:
        query = query.where(messages.c.recipient == where.recipient)
    if where.status is not None:
        query = query.where(messages.c.status == where.status)
    if where.kind is not None:
        # Stored content begins with its tag (see BUTTON_CONTENT_PREFIX).
        query = query.where(messages.c.content.startswith(f'{{"type":"{where.kind}",'))
    if where.created_from is not None:
        query = query.where(messages.c.created_at >= where.created_from)
    if where.created_until is not None:
        query = query.where(messages.c.created_at < where.created_until)
    if before is not None:
        query = query.where(messages.c.id < before)
    found = []
    for row in connection.execute(query):
        values = row._asdict()
        cursor = values.pop("cursor")
        found.append((int(cursor), MessageView(**values)))
    return found
