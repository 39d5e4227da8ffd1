"""The sandbox's own storage: what it "delivered", once per message id.

It lives with the transport, not in `kurir.store`: no other part of Kurir
reads or writes it. Deliveries are keyed by message id, as WhatsApp delivers
a resent id once; ``send_count`` counts how often the gateway sent it, so a
resend after a crash stays visible.
"""

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.status import MessageStatus
from kurir.store.queries import dialect_insert
from kurir.store.tables import messages, metadata

sandbox_deliveries = sa.Table(
    "sandbox_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("message_id", sa.String(20), nullable=False, unique=True),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("recipient", sa.String(20), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("delivered_at", sa.BigInteger, nullable=False),
    sa.Column("send_count", sa.Integer, nullable=False, server_default="1"),
    sa.Index(None, "device_id", "id"),
    # A reply answers the latest message the recipient got from the device.
    sa.Index(None, "device_id", "recipient", "id"),
)


class SandboxDelivery(msgspec.Struct, frozen=True):
    message_id: str
    device_id: int
    recipient: str
    content: str
    delivered_at: int
    #: How many times the gateway sent this message (more than 1 only after a crash).
    send_count: int = 1


def record_deliveries(connection: Connection, deliveries: Sequence[SandboxDelivery]) -> list[None]:
    """Record what the sandbox delivered: once per message, counting every send."""
    sends: dict[str, int] = {}
    first: dict[str, SandboxDelivery] = {}
    for delivery in deliveries:
        sends[delivery.message_id] = sends.get(delivery.message_id, 0) + 1
        first.setdefault(delivery.message_id, delivery)
    insert = dialect_insert(connection, sandbox_deliveries)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[sandbox_deliveries.c.message_id],
            set_={"send_count": sandbox_deliveries.c.send_count + insert.excluded.send_count},
        ),
        [
            {
                "message_id": d.message_id,
                "device_id": d.device_id,
                "recipient": d.recipient,
                "content": d.content,
                "delivered_at": d.delivered_at,
                "send_count": sends[d.message_id],
            }
            for d in first.values()
        ],
    )
    return [None] * len(deliveries)


def latest_delivered(
    connection: Connection, *, device_id: int, recipient: str
) -> tuple[str, str] | None:
    """The newest message delivered to ``recipient``: ``(message_id, content)``."""
    query = (
        sa.select(messages.c.message_id, messages.c.content)
        .select_from(
            sandbox_deliveries.join(
                messages, messages.c.message_id == sandbox_deliveries.c.message_id
            )
        )
        .where(
            sandbox_deliveries.c.device_id == device_id,
            sandbox_deliveries.c.recipient == recipient,
            messages.c.status.in_(
                [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]
            ),
        )
        .order_by(sandbox_deliveries.c.id.desc())
        .limit(1)
    )
    row = (connection.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


def list_deliveries(connection: Connection, *, device_id: int, limit: int) -> list[SandboxDelivery]:
    query = (
        sa.select(
            sandbox_deliveries.c.message_id,
            sandbox_deliveries.c.device_id,
            sandbox_deliveries.c.recipient,
            sandbox_deliveries.c.content,
            sandbox_deliveries.c.delivered_at,
            sandbox_deliveries.c.send_count,
        )
        .where(sandbox_deliveries.c.device_id == device_id)
        .order_by(sandbox_deliveries.c.id.desc())
        .limit(limit)
    )
    return [SandboxDelivery(**row._asdict()) for row in connection.execute(query)]
