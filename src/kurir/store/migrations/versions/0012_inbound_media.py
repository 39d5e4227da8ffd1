"""Inbound files: what a recipient sent, kept so the application can fetch it.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_media",
        sa.Column("message_id", sa.String(20), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("filename", sa.String(240), nullable=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["inbound_messages.message_id"],
            name="fk_inbound_media_message_id_inbound_messages",
        ),
        sa.PrimaryKeyConstraint("message_id", name="pk_inbound_media"),
    )


def downgrade() -> None:
    op.drop_table("inbound_media")
