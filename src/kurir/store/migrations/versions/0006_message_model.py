"""One message model: content says its kind, devices their state, inbound messages kept.

Stored content becomes a tagged union: every existing row is a button
message, so it gains ``"type":"button"`` (as the first key, where msgspec
writes the tag), in messages and in the sandbox's deliveries alike. Devices
get the state their transport last reported, and inbound messages a table.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_TAGGED = """UPDATE {table} SET content = '{{"type":"button",' || substr(content, 2)
WHERE content NOT LIKE '{{"type":%'"""
_UNTAGGED = """UPDATE {table} SET content = '{{' || substr(content, {length})
WHERE content LIKE '{{"type":"button",%'"""


def upgrade() -> None:
    for table in ("messages", "sandbox_deliveries"):
        op.execute(_TAGGED.format(table=table))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("state", sa.String(200), nullable=True))
        batch.add_column(sa.Column("state_at", sa.BigInteger, nullable=True))
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(20), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("sender", sa.String(20), nullable=False),
        sa.Column("sender_name", sa.String(100), nullable=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("media_url", sa.Text, nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("quoted_message_id", sa.String(20), nullable=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_inbound_messages_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_inbound_messages_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_messages"),
        sa.UniqueConstraint("message_id", name="uq_inbound_messages_message_id"),
        sa.UniqueConstraint(
            "device_id",
            "provider_message_id",
            name="uq_inbound_messages_device_id_provider_message_id",
        ),
    )
    op.create_index("ix_inbound_messages_account_id_id", "inbound_messages", ["account_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_account_id_id", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("state_at")
        batch.drop_column("state")
    # Only button messages existed before; text and media rows cannot go back.
    length = len('{"type":"button",') + 1
    for table in ("messages", "sandbox_deliveries"):
        op.execute(_UNTAGGED.format(table=table, length=length))
