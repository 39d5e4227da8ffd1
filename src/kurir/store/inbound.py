"""Messages recipients sent to a device: recorded once each, read back by their account."""

import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.ids import new_message_id
from kurir.store.queries import dialect_insert
from kurir.store.records import InboundMessage, InboundView
from kurir.store.tables import devices, inbound_messages


def record_inbound(
    connection: Connection, *, account_id: int, device_id: int, message: InboundMessage
) -> str | None:
    """Store ``message``; its Kurir id, or None when the provider delivered it before."""
    message_id = new_message_id()
    insert = dialect_insert(connection, inbound_messages)
    stored = connection.execute(
        insert.values(
            message_id=message_id,
            account_id=account_id,
            device_id=device_id,
            sender=message.sender,
            sender_name=message.sender_name,
            type=message.type,
            text=message.text,
            media_url=message.media_url,
            provider_message_id=message.provider_message_id,
            quoted_message_id=message.quoted_message_id,
            received_at=message.at,
        )
        .on_conflict_do_nothing()
        .returning(inbound_messages.c.message_id)
    ).scalar()
    return stored


def list_inbound(
    connection: Connection,
    *,
    account_id: int,
    limit: int,
    before: int | None = None,
    device_id: int | None = None,
) -> list[InboundView]:
    """The account's inbound messages, newest first; ``before`` is the last page's cursor."""
    query = (
        sa.select(
            inbound_messages.c.id,
            inbound_messages.c.message_id,
            devices.c.public_id.label("device"),
            inbound_messages.c.sender,
            inbound_messages.c.sender_name,
            inbound_messages.c.type,
            inbound_messages.c.text,
            inbound_messages.c.media_url,
            inbound_messages.c.quoted_message_id,
            inbound_messages.c.received_at,
        )
        .join(devices, devices.c.id == inbound_messages.c.device_id)
        .where(inbound_messages.c.account_id == account_id)
        .order_by(inbound_messages.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(inbound_messages.c.id < before)
    if device_id is not None:
        query = query.where(inbound_messages.c.device_id == device_id)
    return [InboundView(**row._asdict()) for row in connection.execute(query)]
