"""The schema, in SQLAlchemy Core. Migrations create it; queries read it from here.

Times are integer milliseconds since the Unix epoch (UTC): the same type on
SQLite and PostgreSQL, cheap to index and compare, and free of driver-specific
timezone handling.
"""

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    # SHA-256 of the key; the key itself is shown once and never stored.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(20), nullable=False),
    sa.Column("label", sa.String(100), nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # The id clients put in the "device" field; unique across accounts so that
    # another account's device is indistinguishable from a missing one.
    sa.Column("public_id", sa.String(64), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("transport", sa.String(32), nullable=False),
    sa.Column("config", sa.Text, nullable=False, server_default="{}"),
    sa.Column("min_interval_ms", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_interval_ms", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("removed_at", sa.BigInteger, nullable=True),
    # Which worker sends for this device, until when; and when it may send next,
    # so pacing survives a takeover by another worker.
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=True),
    sa.Column("next_send_at", sa.BigInteger, nullable=False, server_default="0"),
    # What the device's transport last reported: connected, pairing, error: …
    sa.Column("state", sa.String(200), nullable=True),
    sa.Column("state_at", sa.BigInteger, nullable=True),
)

# The message row is the job: its status, due time and lease are the queue.
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("message_id", sa.String(20), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
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
    sa.UniqueConstraint("account_id", "idempotency_key"),
    # The queue: per status, each device's messages in claim order. A claim
    # reads a device's due ones from the head of its range, however many wait
    # behind. Every index here is paid for on the accept path, so there is no other.
    sa.Index(None, "status", "device_id", "due_at", "id"),
)

# The workers alive now: each renews its row with its device leases, and the
# count of live rows sets every worker's fair share of the devices.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
    # Its process, for workers of the same host to see when it is gone (see
    # kurir.dispatch.liveness); NULL where /proc cannot tell.
    sa.Column("host", sa.String(200), nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("process_started", sa.BigInteger, nullable=True),
)

# What recipients sent a device that was not a button press; the account reads
# them newest first.
inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("message_id", sa.String(20), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("sender", sa.String(20), nullable=False),
    sa.Column("sender_name", sa.String(100), nullable=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("media_url", sa.Text, nullable=True),
    # The provider's id: a webhook delivered twice is recorded once.
    sa.Column("provider_message_id", sa.String(128), nullable=True),
    sa.Column("quoted_message_id", sa.String(20), nullable=True),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("device_id", "provider_message_id"),
    sa.Index(None, "account_id", "id"),
)
