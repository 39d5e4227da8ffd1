"""The reply lookup moves from messages to sandbox_deliveries.

Only sandbox devices take replies, and a reply answers a message the
recipient got, which is a sandbox delivery. On messages the index cost every
accepted batch one more page written per recipient; on the deliveries it is
written by the dispatcher instead.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sandbox_deliveries_device_id_recipient_id",
        "sandbox_deliveries",
        ["device_id", "recipient", "id"],
    )
    op.drop_index("ix_messages_device_id_recipient", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_device_id_recipient", "messages", ["device_id", "recipient"])
    op.drop_index("ix_sandbox_deliveries_device_id_recipient_id", table_name="sandbox_deliveries")
