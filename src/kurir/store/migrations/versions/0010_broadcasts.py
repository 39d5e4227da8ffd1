"""Broadcasts and contacts: campaigns, their media, contacts and opt-outs.

Messages name the broadcast they belong to.

The column on messages is added without a foreign key: SQLite adds a column
in place only without one, where a rebuild would copy the largest table.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_IN_A_BROADCAST = sa.text("broadcast_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.BigInteger, nullable=False),
        sa.Column("window_start", sa.Integer, nullable=True),
        sa.Column("window_end", sa.Integer, nullable=True),
        sa.Column("interval_from_ms", sa.Integer, nullable=False),
        sa.Column("interval_to_ms", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("invalid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opted_out", sa.Integer, nullable=False, server_default="0"),
        sa.Column("planned_until", sa.BigInteger, nullable=True),
        sa.Column("plan_at", sa.BigInteger, nullable=True),
        sa.Column("first_message_pk", sa.BigInteger, nullable=True),
        sa.Column("last_message_pk", sa.BigInteger, nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_broadcasts_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_broadcasts_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_broadcasts"),
        sa.UniqueConstraint("public_id", name="uq_broadcasts_public_id"),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name="uq_broadcasts_account_id_idempotency_key"
        ),
    )
    op.create_index("ix_broadcasts_account_id_id", "broadcasts", ["account_id", "id"])
    op.create_index("ix_broadcasts_plan_at", "broadcasts", ["plan_at"])
    op.create_table(
        "broadcast_media",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("broadcast_id", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"], name="fk_broadcast_media_broadcast_id_broadcasts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_media"),
        sa.UniqueConstraint("broadcast_id", name="uq_broadcast_media_broadcast_id"),
    )
    op.add_column("messages", sa.Column("broadcast_id", sa.Integer, nullable=True))
    op.create_index(
        "ix_messages_broadcast_id_status_due_at_id",
        "messages",
        ["broadcast_id", "status", "due_at", "id"],
        sqlite_where=_IN_A_BROADCAST,
        postgresql_where=_IN_A_BROADCAST,
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("group_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False, server_default=""),
        *(
            sa.Column(f"opt{n}", sa.String(255), nullable=False, server_default="")
            for n in range(1, 8)
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_contacts_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint(
            "account_id", "group_name", "phone", name="uq_contacts_account_id_group_name_phone"
        ),
    )
    op.create_index(
        "ix_contacts_account_id_group_name_id", "contacts", ["account_id", "group_name", "id"]
    )
    op.create_index("ix_contacts_account_id_phone", "contacts", ["account_id", "phone"])
    op.create_table(
        "opt_outs",
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("opted_out_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_opt_outs_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("account_id", "phone", name="pk_opt_outs"),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
    op.drop_table("contacts")
    op.drop_index("ix_messages_broadcast_id_status_due_at_id", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("broadcast_id")
    op.drop_table("broadcast_media")
    op.drop_table("broadcasts")
