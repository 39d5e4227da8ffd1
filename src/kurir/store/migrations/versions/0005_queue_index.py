"""The queue index leads with status, so a claim reads only what it takes.

On (device_id, status, due_at) a claim had to ask for two statuses and for
expired leases at once, and the planners used only the device_id part: each
claim read every waiting message of its devices, 146 ms at a million
scheduled. On (status, device_id, due_at, id) each status of a device is one
range in claim order, read from its head; the id settles equal due times
without a sort (PostgreSQL orders equal keys by their place in the table).

Building it reads the whole table once, so on a large database this
migration takes a while (seconds per million messages).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_status_device_id_due_at_id",
        "messages",
        ["status", "device_id", "due_at", "id"],
    )
    op.drop_index("ix_messages_device_id_status_due_at", table_name="messages")


def downgrade() -> None:
    op.create_index(
        "ix_messages_device_id_status_due_at", "messages", ["device_id", "status", "due_at"]
    )
    op.drop_index("ix_messages_status_device_id_due_at_id", table_name="messages")
