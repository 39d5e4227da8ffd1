"""The Cloud API transport's own table: every verified webhook, marked as it is applied.

Meta delivers a webhook until it is answered 200, for days, and may deliver
one again after that. A delivery is known by its device and the SHA-256 of
its bytes, and it is answered only once it is stored. Usually one
transaction records it, applies it and marks it applied (`take_webhooks`):
either all of that is committed or none of it, and a delivery whose mark
exists is a redelivery that changes nothing. When that transaction fails
(one delivery of its batch could not be applied), each delivery is recorded
on its own first, body and all, then applied and marked in a transaction
of its own (`record_webhooks`, `apply_recorded`): one that still cannot be
applied stays recorded, unmarked, and is applied when Meta delivers it
again, which Meta does because it never got its 200.

The body is kept only until it is applied, and kept for good when it could
not be read, so that nothing Meta sent is lost to a parsing mistake.
"""

import functools
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from kurir.clock import now_ms
from kurir.store.provider_reports import ProviderReports, apply_provider_reports
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


def mark_applied(connection: Connection, applied: Sequence[Applied]) -> list[bool]:
    """Mark deliveries applied; for each, whether this marked it (nothing had before).

    The body of one that was read is no longer needed. Only the transaction
    that marks a delivery applies it, so it is applied once even when Meta
    delivers it twice at the same moment.
    """
    return [
        connection.execute(_MARK_BY_ID, {"row_id": a.id, "at": a.at, "reason": a.error}).rowcount
        == 1
        for a in applied
    ]


class TakenWebhook(msgspec.Struct, frozen=True):
    """A verified delivery and what it reports; ``error`` says why it could not be read."""

    received: ReceivedWebhook
    reports: ProviderReports | None
    error: str | None = None


def take_webhooks(connection: Connection, batch: Sequence[TakenWebhook]) -> list[bool]:
    """Record, apply and mark each delivery, all in the caller's one transaction.

    For each, whether it was applied now; False for a redelivery of one
    applied before, which changes nothing. One that `record_webhooks`
    recorded earlier but that was never applied is applied now.
    """
    at = now_ms()
    first: dict[tuple[int, str], TakenWebhook] = {}
    for webhook in batch:  # the same bytes twice in one batch are applied once
        first.setdefault(_key(webhook), webhook)
    inserted = connection.execute(
        _insert_applied(connection.dialect.name),
        [
            {
                "device_id": device_id,
                "digest": digest,
                "received_at": webhook.received.received_at,
                # The body is kept only when it could not be read.
                "body": None if webhook.error is None else webhook.received.body,
                "at": at,
                "reason": webhook.error,
            }
            # In key order: two processes inserting the same keys wait, not deadlock.
            for (device_id, digest), webhook in sorted(first.items())
        ],
    ).all()
    applied = {(row.device_id, row.digest) for row in inserted}
    for (device_id, digest), webhook in first.items():
        if (device_id, digest) not in applied:  # recorded before: applied then, or not yet
            mark = {"of_device": device_id, "of_digest": digest, "at": at, "reason": webhook.error}
            if connection.execute(_MARK_BY_DIGEST, mark).rowcount == 1:
                applied.add((device_id, digest))
    apply_provider_reports(
        connection,
        [w.reports for key, w in first.items() if key in applied and w.reports is not None],
    )
    results = []
    for webhook in batch:  # True for the first of the same bytes only
        key = _key(webhook)
        results.append(key in applied)
        applied.discard(key)
    return results


def _key(webhook: TakenWebhook) -> tuple[int, str]:
    return (webhook.received.device_id, webhook.received.digest)


def apply_recorded(
    connection: Connection, applied: Applied, reports: ProviderReports | None
) -> bool:
    """Apply a delivery `record_webhooks` recorded and mark it, in one transaction.

    Whether it was applied now: False when another transaction marked it first.
    """
    if not mark_applied(connection, [applied])[0]:
        return False
    if reports is not None:
        apply_provider_reports(connection, [reports])
    return True


_MARK = {
    "applied_at": sa.bindparam("at"),
    "error": sa.bindparam("reason"),
    "body": sa.case(
        (sa.bindparam("reason", type_=sa.Text).is_(None), None), else_=cloud_webhooks.c.body
    ),
}
_UNAPPLIED = cloud_webhooks.c.applied_at.is_(None)
_MARK_BY_ID = (
    cloud_webhooks.update()
    .where(cloud_webhooks.c.id == sa.bindparam("row_id"), _UNAPPLIED)
    .values(_MARK)
)
_MARK_BY_DIGEST = (
    cloud_webhooks.update()
    .where(
        cloud_webhooks.c.device_id == sa.bindparam("of_device"),
        cloud_webhooks.c.digest == sa.bindparam("of_digest"),
        _UNAPPLIED,
    )
    .values(_MARK)
)


@functools.cache
def _insert_applied(dialect: str) -> sa.Insert:
    """A delivery's row as applied, or nothing when its bytes are recorded already."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(cloud_webhooks)
        .values(
            device_id=sa.bindparam("device_id"),
            digest=sa.bindparam("digest"),
            body=sa.bindparam("body"),
            received_at=sa.bindparam("received_at"),
            applied_at=sa.bindparam("at"),
            error=sa.bindparam("reason"),
        )
        .on_conflict_do_nothing()
        .returning(cloud_webhooks.c.device_id, cloud_webhooks.c.digest)
    )
