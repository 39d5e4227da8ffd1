"""The dashboard: signed-in sessions, and events that name their message.

Events name the message they are about, so a message's page finds the
webhook deliveries it caused. Lists of messages add no index (see
`kurir.store.message_list`).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_OF_A_MESSAGE = sa.text("message_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("api_key_id", sa.Integer, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_dashboard_sessions_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name="fk_dashboard_sessions_api_key_id_api_keys"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dashboard_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_dashboard_sessions_token_hash"),
    )
    # Added without a foreign key or default: SQLite adds it in place.
    op.add_column("events", sa.Column("message_id", sa.Text, nullable=True))
    op.create_index(
        "ix_events_message_id",
        "events",
        ["message_id"],
        sqlite_where=_OF_A_MESSAGE,
        postgresql_where=_OF_A_MESSAGE,
    )


def downgrade() -> None:
    op.drop_index("ix_events_message_id", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("message_id")
    op.drop_table("dashboard_sessions")
