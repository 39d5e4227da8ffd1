"""WhatsApp Web: pairing state, WhatsApp's id of each sent message, checked numbers.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_web_sessions",
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("jid", sa.String(100), nullable=True),
        sa.Column("pair_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("served_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pair_phone", sa.String(20), nullable=True),
        sa.Column("qr_code", sa.Text, nullable=True),
        sa.Column("qr_at", sa.BigInteger, nullable=True),
        sa.Column("pair_code", sa.String(16), nullable=True),
        sa.Column("pair_result", sa.String(200), nullable=True),
        sa.Column("disconnect_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disconnected_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_whatsapp_web_sessions_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("device_id", name="pk_whatsapp_web_sessions"),
    )
    op.create_table(
        "whatsapp_web_sent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("provider_id", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(20), nullable=False),
        sa.Column("sent_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_whatsapp_web_sent_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_whatsapp_web_sent"),
        sa.UniqueConstraint(
            "device_id", "provider_id", name="uq_whatsapp_web_sent_device_id_provider_id"
        ),
    )
    op.create_table(
        "whatsapp_web_numbers",
        sa.Column("device_id", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("on_whatsapp", sa.Boolean, nullable=False),
        sa.Column("checked_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_whatsapp_web_numbers_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("device_id", "phone", name="pk_whatsapp_web_numbers"),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_web_numbers")
    op.drop_table("whatsapp_web_sent")
    op.drop_table("whatsapp_web_sessions")
