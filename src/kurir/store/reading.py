"""Reading messages as their owners see them, and finding them by the provider's id."""

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store.records import (
    MessageView,
)
from kurir.store.tables import broadcasts, devices, messages

VIEW_COLUMNS = (
    messages.c.message_id,
    devices.c.public_id.label("device"),
    devices.c.phone.label("device_phone"),
    devices.c.transport.label("device_transport"),
    messages.c.recipient,
    messages.c.content,
    messages.c.status,
    messages.c.due_at,
    messages.c.attempts,
    messages.c.last_error,
    messages.c.provider_message_id,
    messages.c.reply,
    messages.c.created_at,
    messages.c.sending_at,
    messages.c.sent_at,
    messages.c.delivered_at,
    messages.c.read_at,
    messages.c.failed_at,
    messages.c.cancelled_at,
    broadcasts.c.public_id.label("broadcast"),
)
#: A message with its device, and its broadcast if it has one.
#: What VIEW_COLUMNS are read from.
VIEW_FROM = messages.join(devices, devices.c.id == messages.c.device_id).outerjoin(
    broadcasts, broadcasts.c.id == messages.c.broadcast_id
)


def get_message(
    connection: Connection, message_id: str, *, account_id: int | None
) -> MessageView | None:
    """The message, if it exists and (when ``account_id`` is given) that account owns it."""
    query = (
        sa.select(*VIEW_COLUMNS).select_from(VIEW_FROM).where(messages.c.message_id == message_id)
    )
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    row = (connection.execute(query)).first()
    return MessageView(**row._asdict()) if row is not None else None


def message_ids_by_provider_id(
    connection: Connection, *, device_id: int, provider_ids: Collection[str]
) -> dict[str, str]:
    """Kurir's ids of the device's messages the provider knows by ``provider_ids``."""
    if not provider_ids:
        return {}
    rows = connection.execute(
        sa.select(messages.c.provider_message_id, messages.c.message_id).where(
            messages.c.device_id == device_id,
            messages.c.provider_message_id.in_(sorted(provider_ids)),
        )
    )
    return {row.provider_message_id: row.message_id for row in rows}
