"""Accounts, API keys, devices, messages and the sandbox's deliveries.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(20), nullable=False),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_api_keys_account_id_accounts"
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("transport", sa.String(32), nullable=False),
        sa.Column("config", sa.Text, nullable=False, server_default="{}"),
        sa.Column("min_interval_ms", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_interval_ms", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("removed_at", sa.BigInteger, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("next_send_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_devices_account_id_accounts"
        ),
        sa.UniqueConstraint("public_id", name="uq_devices_public_id"),
    )
    op.create_table(
        "messages",
        sa.Column("id", _ROW_ID, primary_key=True),
        sa.Column("message_id", sa.String(20), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("reply", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("sending_at", sa.BigInteger, nullable=True),
        sa.Column("sent_at", sa.BigInteger, nullable=True),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("read_at", sa.BigInteger, nullable=True),
        sa.Column("failed_at", sa.BigInteger, nullable=True),
        sa.Column("cancelled_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_messages_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_messages_device_id_devices"
        ),
        sa.UniqueConstraint("message_id", name="uq_messages_message_id"),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name="uq_messages_account_id_idempotency_key"
        ),
    )
    op.create_index(
        "ix_messages_device_id_status_due_at", "messages", ["device_id", "status", "due_at"]
    )
    op.create_index("ix_messages_device_id_recipient", "messages", ["device_id", "recipient"])
    op.create_table(
        "sandbox_deliveries",
        sa.Column("id", _ROW_ID, primary_key=True),
        sa.Column("message_id", sa.String(20), nullable=False),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=False),
        sa.Column("send_count", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_deliveries"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_sandbox_deliveries_device_id_devices"
        ),
        sa.UniqueConstraint("message_id", name="uq_sandbox_deliveries_message_id"),
    )
    op.create_index("ix_sandbox_deliveries_device_id_id", "sandbox_deliveries", ["device_id", "id"])


def downgrade() -> None:
    op.drop_table("sandbox_deliveries")
    op.drop_table("messages")
    op.drop_table("devices")
    op.drop_table("api_keys")
    op.drop_table("accounts")
