"""WhatsApp's Cloud API: devices' profiles, messages found by Meta's id, Meta's webhooks recorded.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_HAS_PROVIDER_ID = sa.text("provider_message_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("profile", sa.Text, nullable=True))
    op.create_index(
        "ix_messages_device_id_provider_message_id",
        "messages",
        ["device_id", "provider_message_id"],
        sqlite_where=_HAS_PROVIDER_ID,
        postgresql_where=_HAS_PROVIDER_ID,
    )
    op.create_table(
        "cloud_webhooks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("applied_at", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_cloud_webhooks_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cloud_webhooks"),
        sa.UniqueConstraint("device_id", "digest", name="uq_cloud_webhooks_device_id_digest"),
    )


def downgrade() -> None:
    op.drop_table("cloud_webhooks")
    op.drop_index("ix_messages_device_id_provider_message_id", table_name="messages")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("profile")
