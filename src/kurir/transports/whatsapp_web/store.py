"""WhatsApp Web's own tables: pairing, which message each WhatsApp id is, checked numbers.

Pairing travels through ``whatsapp_web_sessions`` so that any API process can
start it and show its QR code while the worker holding the device runs the
session: the API bumps ``pair_seq`` (or ``disconnect_seq``), the worker sees
it, serves it, and writes the codes back under the request's number.

WhatsApp chooses a message's id when it accepts the message, and reports
receipts and replies by that id: ``whatsapp_web_sent`` says which Kurir
message each one is, written the moment the send returns.
"""

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store.queries import dialect_insert
from kurir.store.tables import messages, metadata

whatsapp_web_sessions = sa.Table(
    "whatsapp_web_sessions",
    metadata,
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), primary_key=True),
    # The linked account (user:device@server) once paired; NULL while unpaired.
    sa.Column("jid", sa.String(100), nullable=True),
    # The latest pairing request, and the latest the worker took up.
    sa.Column("pair_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("served_seq", sa.Integer, nullable=False, server_default="0"),
    # Pairing by code asks for the phone's number; NULL: by QR code.
    sa.Column("pair_phone", sa.String(20), nullable=True),
    sa.Column("qr_code", sa.Text, nullable=True),
    sa.Column("qr_at", sa.BigInteger, nullable=True),
    sa.Column("pair_code", sa.String(16), nullable=True),
    # How the latest pairing ended: paired, expired or an error's text.
    sa.Column("pair_result", sa.String(200), nullable=True),
    sa.Column("disconnect_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disconnected_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

whatsapp_web_sent = sa.Table(
    "whatsapp_web_sent",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("provider_id", sa.String(128), nullable=False),
    sa.Column("message_id", sa.String(20), nullable=False),
    sa.Column("sent_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("device_id", "provider_id"),
)

whatsapp_web_numbers = sa.Table(
    "whatsapp_web_numbers",
    metadata,
    sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), primary_key=True),
    sa.Column("phone", sa.String(20), primary_key=True),
    sa.Column("on_whatsapp", sa.Boolean, nullable=False),
    # When WhatsApp answered; below zero, a check asked for at -checked_at and not
    # answered yet (POST /check-numbers asks the worker that holds the device).
    sa.Column("checked_at", sa.BigInteger, nullable=False),
)


class SessionRow(msgspec.Struct, frozen=True):
    device_id: int
    jid: str | None
    pair_seq: int
    served_seq: int
    pair_phone: str | None
    qr_code: str | None
    qr_at: int | None
    pair_code: str | None
    pair_result: str | None
    disconnect_seq: int
    disconnected_seq: int
    updated_at: int

    @property
    def pairing_requested(self) -> bool:
        return self.pair_seq > self.served_seq

    @property
    def disconnect_requested(self) -> bool:
        return self.disconnect_seq > self.disconnected_seq


class SentMessage(msgspec.Struct, frozen=True):
    device_id: int
    provider_id: str
    message_id: str
    sent_at: int


_S = whatsapp_web_sessions.c


def _ensure_row(connection: Connection, device_id: int, now: int) -> None:
    insert = dialect_insert(connection, whatsapp_web_sessions)
    connection.execute(insert.values(device_id=device_id, updated_at=now).on_conflict_do_nothing())


def session_row(connection: Connection, *, device_id: int) -> SessionRow | None:
    row = connection.execute(
        sa.select(*whatsapp_web_sessions.c).where(_S.device_id == device_id)
    ).first()
    return SessionRow(**row._asdict()) if row is not None else None


def session_rows(connection: Connection, device_ids: Sequence[int]) -> list[SessionRow]:
    if not device_ids:
        return []
    rows = connection.execute(
        sa.select(*whatsapp_web_sessions.c).where(_S.device_id.in_(list(device_ids)))
    )
    return [SessionRow(**row._asdict()) for row in rows]


def requests_of(
    connection: Connection, device_ids: Sequence[int]
) -> tuple[list[SessionRow], dict[int, int]]:
    """What a worker watches: its devices' pairing rows, and their latest unanswered checks."""
    return session_rows(connection, device_ids), latest_checks_asked(connection, device_ids)


def request_pairing(connection: Connection, *, device_id: int, phone: str | None, now: int) -> int:
    """Ask for a new pairing (by code when ``phone`` is given); its number."""
    _ensure_row(connection, device_id, now)
    seq: int = connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id)
        .values(
            pair_seq=_S.pair_seq + 1,
            pair_phone=phone,
            qr_code=None,
            qr_at=None,
            pair_code=None,
            pair_result=None,
            updated_at=now,
        )
        .returning(_S.pair_seq)
    ).scalar_one()
    return seq


def request_disconnect(connection: Connection, *, device_id: int, now: int) -> int:
    _ensure_row(connection, device_id, now)
    seq: int = connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id)
        .values(disconnect_seq=_S.disconnect_seq + 1, updated_at=now)
        .returning(_S.disconnect_seq)
    ).scalar_one()
    return seq


def serve_pairing(connection: Connection, *, device_id: int, seq: int, now: int) -> None:
    """The worker took up pairing request ``seq``: codes shown from now on answer it."""
    connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id, _S.served_seq < seq)
        .values(served_seq=seq, updated_at=now)
    )


def show_codes(
    connection: Connection,
    *,
    device_id: int,
    seq: int,
    now: int,
    qr_code: str | None = None,
    pair_code: str | None = None,
) -> None:
    """Show a QR or pairing code of request ``seq``; a newer request's codes are kept."""
    values: dict[str, object] = {"updated_at": now}
    if qr_code is not None:
        values.update(qr_code=qr_code, qr_at=now)
    if pair_code is not None:
        values.update(pair_code=pair_code)
    connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id, _S.pair_seq == seq)
        .values(**values)
    )


def end_pairing(connection: Connection, *, device_id: int, result: str, now: int) -> None:
    """The pairing under way ended (paired, expired, failed): its codes are gone."""
    connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id)
        .values(qr_code=None, qr_at=None, pair_code=None, pair_result=result, updated_at=now)
    )


def set_jid(connection: Connection, *, device_id: int, jid: str | None, now: int) -> None:
    """Remember the linked account (after pairing), or forget it (logged out)."""
    _ensure_row(connection, device_id, now)
    connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id)
        .values(jid=jid, updated_at=now)
    )


def finish_disconnect(connection: Connection, *, device_id: int, seq: int, now: int) -> None:
    """Disconnect request ``seq`` (and any before it) is done: the session is forgotten."""
    connection.execute(
        whatsapp_web_sessions.update()
        .where(_S.device_id == device_id)
        .values(
            jid=None,
            disconnected_seq=sa.case((_S.disconnected_seq < seq, seq), else_=_S.disconnected_seq),
            # A pairing asked for before the disconnect is void.
            served_seq=_S.pair_seq,
            qr_code=None,
            qr_at=None,
            pair_code=None,
            updated_at=now,
        )
    )


#: whatsmeow's tables that hold a device's keys by its JID but have no foreign key
#: to ``whatsmeow_device``; its other tables' rows go with the device's row.
_WHATSMEOW_UNLINKED = ("whatsmeow_privacy_tokens", "our_jid")


def forget_whatsmeow_device(connection: Connection, *, jid: str) -> None:
    """Delete a linked device's keys from whatsmeow's shared tables, as its logout does.

    whatsmeow names a device's rows by its JID as `wire.jid_text` writes it
    (``user:device@server``). Nothing to do while whatsmeow has not made its
    tables yet (no device of this database was ever started).
    """
    for table, column in (_WHATSMEOW_UNLINKED, ("whatsmeow_device", "jid")):
        found = connection.execute(sa.text("SELECT to_regclass(:table)"), {"table": table})
        if found.scalar() is not None:
            # Names from the constants above, never from input.
            connection.execute(
                sa.text(f"DELETE FROM {table} WHERE {column} = :jid"),  # noqa: S608
                {"jid": jid},
            )


def device_removed(connection: Connection, *, device_id: int) -> bool:
    from kurir.store.tables import devices

    removed_at = connection.execute(
        sa.select(devices.c.removed_at).where(devices.c.id == device_id)
    ).scalar()
    return removed_at is not None


def record_sent(connection: Connection, sent: Sequence[SentMessage]) -> list[None]:
    """Which Kurir message each WhatsApp id is; a repeated report is kept once."""
    insert = dialect_insert(connection, whatsapp_web_sent)
    connection.execute(
        insert.on_conflict_do_nothing(),
        [msgspec.structs.asdict(item) for item in sent],
    )
    return [None] * len(sent)


def find_sent(
    connection: Connection, *, device_id: int, provider_ids: Sequence[str]
) -> dict[str, str]:
    """Kurir's ids of the device's messages that WhatsApp knows by ``provider_ids``."""
    rows = connection.execute(
        sa.select(whatsapp_web_sent.c.provider_id, whatsapp_web_sent.c.message_id).where(
            whatsapp_web_sent.c.device_id == device_id,
            whatsapp_web_sent.c.provider_id.in_(list(provider_ids)),
        )
    )
    return {row.provider_id: row.message_id for row in rows}


def sent_content(
    connection: Connection, *, device_id: int, provider_id: str
) -> tuple[str, str] | None:
    """The Kurir message WhatsApp knows by ``provider_id``: ``(message_id, content)``."""
    row = connection.execute(
        sa.select(messages.c.message_id, messages.c.content)
        .select_from(
            whatsapp_web_sent.join(
                messages, messages.c.message_id == whatsapp_web_sent.c.message_id
            )
        )
        .where(
            whatsapp_web_sent.c.device_id == device_id,
            whatsapp_web_sent.c.provider_id == provider_id,
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


_N = whatsapp_web_numbers.c


def known_numbers(
    connection: Connection, *, device_id: int, phones: Sequence[str]
) -> dict[str, bool]:
    """What WhatsApp answered about ``phones``, for those it has answered about."""
    rows = connection.execute(
        sa.select(_N.phone, _N.on_whatsapp).where(
            _N.device_id == device_id, _N.phone.in_(list(phones)), _N.checked_at > 0
        )
    )
    return {row.phone: row.on_whatsapp for row in rows}


def request_check(
    connection: Connection, *, device_id: int, phones: Sequence[str], now: int
) -> None:
    """Ask the worker holding the device to check ``phones`` afresh; earlier answers are void."""
    insert = dialect_insert(connection, whatsapp_web_numbers)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[_N.device_id, _N.phone], set_={"checked_at": -now}
        ),
        [
            {"device_id": device_id, "phone": phone, "on_whatsapp": False, "checked_at": -now}
            for phone in phones
        ],
    )


def checks_asked(connection: Connection, *, device_id: int) -> list[str]:
    """The numbers a check was asked for and not answered yet."""
    rows = connection.execute(
        sa.select(_N.phone).where(_N.device_id == device_id, _N.checked_at < 0).order_by(_N.phone)
    )
    return [row.phone for row in rows]


def latest_checks_asked(connection: Connection, device_ids: Sequence[int]) -> dict[int, int]:
    """When each device's latest unanswered check was asked, for devices that have one."""
    if not device_ids:
        return {}
    rows = connection.execute(
        sa.select(_N.device_id, sa.func.min(_N.checked_at))
        .where(_N.device_id.in_(list(device_ids)), _N.checked_at < 0)
        .group_by(_N.device_id)
    )
    return {row[0]: -row[1] for row in rows}


def remember_numbers(
    connection: Connection, *, device_id: int, found: dict[str, bool], now: int
) -> None:
    if not found:
        return
    insert = dialect_insert(connection, whatsapp_web_numbers)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[whatsapp_web_numbers.c.device_id, whatsapp_web_numbers.c.phone],
            set_={
                "on_whatsapp": insert.excluded.on_whatsapp,
                "checked_at": insert.excluded.checked_at,
            },
        ),
        [
            {"device_id": device_id, "phone": phone, "on_whatsapp": on, "checked_at": now}
            for phone, on in found.items()
        ],
    )


class PairingView(msgspec.Struct, frozen=True):
    """What the pairing routes show: the device's state and its pairing row."""

    state: str | None
    lease_until: int | None
    session: SessionRow | None


def pairing_view(connection: Connection, *, device_id: int) -> PairingView:
    from kurir.store.tables import devices

    row = connection.execute(
        sa.select(devices.c.state, devices.c.lease_until).where(devices.c.id == device_id)
    ).one()
    return PairingView(
        state=row.state,
        lease_until=row.lease_until,
        session=session_row(connection, device_id=device_id),
    )
