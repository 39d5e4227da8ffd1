"""The schema, in SQLAlchemy Core. Migrations create it; queries read it from here.

Times are integer milliseconds since the Unix epoch (UTC): the same type on
SQLite and PostgreSQL, cheap to index and compare, and free of driver-specific
timezone handling.
"""

import sqlalchemy as sa

from kurir.domain.content import BUTTON_CONTENT_PREFIX
from kurir.domain.status import MessageStatus

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
    # What the provider said of the number when the device was added (JSON of
    # a DeviceProfile: display phone, verified name, quality rating); NULL
    # for transports that have nothing to ask.
    sa.Column("profile", sa.Text, nullable=True),
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
    # behind.
    sa.Index(None, "status", "device_id", "due_at", "id"),
    # A provider's status report names the message by the provider's id. A
    # message has none until it is sent, and the index holds only those that
    # have one, so accepting a message never touches it.
    sa.Index(
        None,
        "device_id",
        "provider_message_id",
        sqlite_where=sa.text("provider_message_id IS NOT NULL"),
        postgresql_where=sa.text("provider_message_id IS NOT NULL"),
    ),
)

#: Whether a message is a button message, written as its index's condition is,
#: so that a query with it can use the index.
IS_BUTTON_MESSAGE = messages.c.content.like(
    sa.literal(BUTTON_CONTENT_PREFIX + "%", literal_execute=True)
)

# The button messages sent to each recipient of a device, latest last: a text
# that answers one is told from a message by reading the latest. Partial, so an
# accept pays nothing for it and a send only when it is a button message.
sa.Index(
    None,
    messages.c.device_id,
    messages.c.recipient,
    messages.c.sent_at,
    # Ties of sent_at are read latest first too, from the index alone.
    messages.c.id,
    sqlite_where=sa.and_(messages.c.sent_at.is_not(None), IS_BUTTON_MESSAGE),
    postgresql_where=sa.and_(messages.c.sent_at.is_not(None), IS_BUTTON_MESSAGE),
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

# A file an inbound message carried, fetched when it arrived (WhatsApp Web's
# session downloads it), served at ``media_url`` to the message's account.
inbound_media = sa.Table(
    "inbound_media",
    metadata,
    sa.Column(
        "message_id",
        sa.String(20),
        sa.ForeignKey("inbound_messages.message_id"),
        primary_key=True,
    ),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("filename", sa.String(240), nullable=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# -- webhooks ------------------------------------------------------------------

# Where an account wants to hear of events. ``events`` and ``devices`` are JSON
# lists (devices by public id; NULL: every device of the account). The signing
# secret must be readable to sign with, so it is stored as issued; the one it
# replaced keeps signing beside it until ``previous_secret_until``.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    sa.Column("devices", sa.Text, nullable=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_until", sa.BigInteger, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    # Why Kurir disabled it (every delivery failed for the whole deadline);
    # NULL when it is enabled, or paused by its owner.
    sa.Column("disabled_reason", sa.Text, nullable=True),
    # The first failed attempt since the last delivered one; NULL while healthy.
    sa.Column("failing_since", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index(None, "account_id", "id"),
)

# What happened, rendered once as the JSON body every endpoint receives. Only
# written when at least one endpoint wants it (see `kurir.store.events`).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    # Made by Kurir, so a batch of events is one multi-row INSERT whose RETURNING
    # ids SQLAlchemy can match to the rows (without it, one INSERT an event).
    sa.Column("public_id", sa.String(32), nullable=False, unique=True, insert_sentinel=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # The message the event is about, if any: a message's page lists the
    # deliveries it caused. Partial, so events of no message cost nothing.
    sa.Column("message_id", sa.Text, nullable=True),
    sa.Index(
        None,
        "message_id",
        sqlite_where=sa.text("message_id IS NOT NULL"),
        postgresql_where=sa.text("message_id IS NOT NULL"),
    ),
)

# The outbox: one row per (event, endpoint), written in the transaction that
# made the event. The row is the job, as a message row is: status, due time
# and lease are the queue. ``public_id`` is the ``webhook-id`` of every attempt.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.BigInteger, sa.ForeignKey("events.id"), nullable=False),
    # pending, delivering, delivered, dead (see kurir.domain.webhooks.DeliveryStatus)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("event_at", sa.BigInteger, nullable=False),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.Column("deadline_at", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=True),
    sa.Column("last_attempt_at", sa.BigInteger, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", sa.BigInteger, nullable=True),
    # The queue, as messages': per status, each endpoint's deliveries in claim order.
    sa.Index(None, "status", "endpoint_id", "due_at", "id"),
    # An endpoint's log and its redelivery since a time.
    sa.Index(None, "endpoint_id", "event_at"),
)

# Every attempt at a delivery, for its owner's delivery log.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("attempted_at", sa.BigInteger, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    # The start of the answer's body (at most 1 KiB).
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index(None, "delivery_id", "id"),
    sa.Index(None, "endpoint_id", "id"),
)

# -- broadcasts and contacts ------------------------------------------------------

# A campaign: many messages from one request, spread over time by a plan (see
# kurir.domain.broadcast). Its messages are ordinary rows of ``messages``
# carrying its id; ``plan_at`` is when the planner next extends the plan (NULL
# while nothing is left to plan, or the broadcast is paused or cancelled).
broadcasts = sa.Table(
    "broadcasts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    # active, paused, cancelled (kurir.domain.broadcast.BroadcastState)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("starts_at", sa.BigInteger, nullable=False),
    # The daily window in ms after local midnight; NULL: all day.
    sa.Column("window_start", sa.Integer, nullable=True),
    sa.Column("window_end", sa.Integer, nullable=True),
    sa.Column("interval_from_ms", sa.Integer, nullable=False),
    sa.Column("interval_to_ms", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("invalid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("opted_out", sa.Integer, nullable=False, server_default="0"),
    # The due time of the last message planned; the next is a random pause after it.
    sa.Column("planned_until", sa.BigInteger, nullable=True),
    sa.Column("plan_at", sa.BigInteger, nullable=True),
    # The row ids of its first and last message: its messages lie between.
    sa.Column("first_message_pk", sa.BigInteger, nullable=True),
    sa.Column("last_message_pk", sa.BigInteger, nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("account_id", "idempotency_key"),
    sa.Index(None, "account_id", "id"),
    sa.Index(None, "plan_at"),
)

# A media broadcast's file, stored once and read by the worker for each message.
broadcast_media = sa.Table(
    "broadcast_media",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "broadcast_id", sa.Integer, sa.ForeignKey("broadcasts.id"), nullable=False, unique=True
    ),
    sa.Column("media_type", sa.String(16), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# The broadcast a message belongs to. No foreign key: SQLite adds a column
# with one only by rebuilding the table, and messages is the largest table.
messages.append_column(sa.Column("broadcast_id", sa.Integer, nullable=True))
_IN_A_BROADCAST = messages.c.broadcast_id.is_not(None)
# Partial: only a broadcast's messages are in it, so ordinary sends pay nothing.
# A broadcast's totals by status, its planner's next messages and next due time.
# Its messages are paged through by id between the broadcast's first and last
# (they are inserted together), which needs no index of its own.
sa.Index(
    "ix_messages_broadcast_id_status_due_at_id",
    messages.c.broadcast_id,
    messages.c.status,
    messages.c.due_at,
    messages.c.id,
    sqlite_where=_IN_A_BROADCAST,
    postgresql_where=_IN_A_BROADCAST,
)

# A broadcast's messages counted by status: one column a status, named as the
# status is stored. `kurir.store.lifecycle` keeps them in the transaction of
# each change (see `kurir.store.broadcast_totals`), so a broadcast's totals are
# one row however many messages it has. A table of its own, not columns of
# ``broadcasts``: pausing or planning locks the broadcast's row and then its
# messages, while a change of status locks messages and then these counts.
broadcast_totals = sa.Table(
    "broadcast_totals",
    metadata,
    sa.Column("broadcast_id", sa.Integer, sa.ForeignKey("broadcasts.id"), primary_key=True),
    *(
        sa.Column(status.value, sa.Integer, nullable=False, server_default="0")
        for status in MessageStatus
    ),
)

# An account's contacts, by group ("" for none): a phone once per group.
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("group_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("name", sa.String(100), nullable=False, server_default=""),
    *(sa.Column(f"opt{n}", sa.String(255), nullable=False, server_default="") for n in range(1, 8)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("account_id", "group_name", "phone"),
    sa.Index(None, "account_id", "group_name", "id"),
    sa.Index(None, "account_id", "phone"),
)

# Recipients who asked an account's devices for no more broadcasts.
opt_outs = sa.Table(
    "opt_outs",
    metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("phone", sa.String(20), primary_key=True),
    sa.Column("opted_out_at", sa.BigInteger, nullable=False),
)


# -- dashboard -------------------------------------------------------------------

# A signed-in browser: the cookie holds a token, this row its hash. The session
# lives only while the key it was opened with does (revoking it ends them).
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)
