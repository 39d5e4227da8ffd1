"""A broadcast's messages counted by status, so reading its totals counts nothing.

The counts of existing broadcasts are filled from their messages, in the
migration's transaction. Statuses as they are stored, written out: a
migration does not follow later changes to the code.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_STATUSES = ("scheduled", "queued", "sending", "sent", "delivered", "read", "failed", "cancelled")


def upgrade() -> None:
    op.create_table(
        "broadcast_totals",
        sa.Column("broadcast_id", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in _STATUSES),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"], name="fk_broadcast_totals_broadcast_id_broadcasts"
        ),
        sa.PrimaryKeyConstraint("broadcast_id", name="pk_broadcast_totals"),
    )
    messages = sa.table("messages", sa.column("broadcast_id"), sa.column("status"))
    broadcasts = sa.table("broadcasts", sa.column("id"))
    totals = sa.table(
        "broadcast_totals", *(sa.column(name) for name in ("broadcast_id", *_STATUSES))
    )
    # One pass over the broadcasts' messages (their partial index), a sum per status.
    counted = (
        sa.select(
            messages.c.broadcast_id,
            *(
                sa.func.sum(sa.case((messages.c.status == name, 1), else_=0)).label(name)
                for name in _STATUSES
            ),
        )
        .where(messages.c.broadcast_id.is_not(None))
        .group_by(messages.c.broadcast_id)
        .subquery()
    )
    op.execute(
        totals.insert().from_select(
            ["broadcast_id", *_STATUSES],
            sa.select(
                broadcasts.c.id,
                *(sa.func.coalesce(counted.c[name], 0) for name in _STATUSES),
            ).select_from(broadcasts.outerjoin(counted, counted.c.broadcast_id == broadcasts.c.id)),
        )
    )


def downgrade() -> None:
    op.drop_table("broadcast_totals")
