"""The Cloud API transport's own table: every verified webhook, recorded before it is applied.

Meta delivers a webhook until it is answered 200, for days, and may deliver
one again after that. A delivery is recorded (by its device and the SHA-256
of its bytes) before anything in it is applied, and marked applied after:
a delivery whose mark exists is answered at once and changes nothing, and
one recorded but never marked (the process died while applying it, or the
database failed) is applied when Meta delivers it again, which Meta does
because it never got its 200. Applying is safe to repeat, but need not be.

The body is kept only until it is applied, and kept for good when it could
not be read, so that nothing Meta sent is lost to a parsing mistake.
"""

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store.queries import dialect_insert
from kurir.store.tables import metadata

cloud_webhooks = sa.Table(
    "cloud_webhooks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
    # SHA-256 of the raw body, hex: a redelivery has the same bytes.
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("applied_at", sa.BigInteger, nullable=True),
    # Why the body could not be read; it is kept then.
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("device_id", "digest"),
)


class ReceivedWebhook(msgspec.Struct, frozen=True):
    device_id: int
    digest: str
    body: str
    received_at: int


class Recorded(msgspec.Struct, frozen=True):
    """A delivery's row, and whether it was applied before (a redelivery)."""

    id: int
    applied: bool


class Applied(msgspec.Struct, frozen=True):
    id: int
    at: int
    #: Why the body could not be read; None when it was applied.
    error: str | None = None


def record_webhooks(connection: Connection, received: Sequence[ReceivedWebhook]) -> list[Recorded]:
    """Record each delivery once; for each, its row and whether it was applied already."""
    recorded: dict[tuple[int, str], Recorded] = {}
    insert = dialect_insert(connection, cloud_webhooks).on_conflict_do_nothing()
    for webhook in received:
        key = (webhook.device_id, webhook.digest)
        if key in recorded:  # the same bytes twice in one batch
            continue
        new_id = connection.execute(
            insert.values(
                device_id=webhook.device_id,
                digest=webhook.digest,
                body=webhook.body,
                received_at=webhook.received_at,
            ).returning(cloud_webhooks.c.id)
        ).scalar()
        if new_id is not None:
            recorded[key] = Recorded(id=new_id, applied=False)
            continue
        row = connection.execute(
            sa.select(cloud_webhooks.c.id, cloud_webhooks.c.applied_at).where(
                cloud_webhooks.c.device_id == webhook.device_id,
                cloud_webhooks.c.digest == webhook.digest,
            )
        ).one()
        recorded[key] = Recorded(id=row.id, applied=row.applied_at is not None)
    return [recorded[(webhook.device_id, webhook.digest)] for webhook in received]


def mark_applied(connection: Connection, applied: Sequence[Applied]) -> list[None]:
    """Mark deliveries applied; the body of one that was read is no longer needed."""
    connection.execute(
        cloud_webhooks.update()
        .where(cloud_webhooks.c.id == sa.bindparam("row_id"))
        .values(
            applied_at=sa.bindparam("at"),
            error=sa.bindparam("reason"),
            body=sa.case(
                (sa.bindparam("reason", type_=sa.Text).is_(None), None),
                else_=cloud_webhooks.c.body,
            ),
        ),
        [{"row_id": a.id, "at": a.at, "reason": a.error} for a in applied],
    )
    return [None] * len(applied)
