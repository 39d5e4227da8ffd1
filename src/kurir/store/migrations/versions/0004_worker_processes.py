"""Workers record their process, so that a dead one on the same host is known at once.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("workers", sa.Column("host", sa.String(200), nullable=True))
    op.add_column("workers", sa.Column("pid", sa.Integer, nullable=True))
    op.add_column("workers", sa.Column("process_started", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("process_started")
        batch.drop_column("pid")
        batch.drop_column("host")
