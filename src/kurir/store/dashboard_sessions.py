"""The dashboard's signed-in sessions: opened with an API key, ended by signing out.

The browser holds a random token; only its hash is stored, beside the
session's CSRF token. A session is good while it has not expired and the key
it was opened with is not revoked, so revoking a key signs its browsers out.
"""

import hashlib

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store.tables import api_keys, dashboard_sessions


class DashboardSession(msgspec.Struct, frozen=True):
    """Whose session it is, and the token its forms must carry."""

    account_id: int
    csrf_token: str


def token_hash(token: str) -> str:
    """How a session's token is stored and looked up (a random token needs no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    connection: Connection,
    *,
    key_hash: str,
    token: str,
    csrf_token: str,
    now: int,
    lifetime_ms: int,
) -> DashboardSession | None:
    """A session for the live key of hash ``key_hash``; None when no such key is live."""
    key = connection.execute(
        sa.select(api_keys.c.id, api_keys.c.account_id).where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
    ).first()
    if key is None:
        return None
    # Expired sessions go when anyone signs in: the table stays the size of its live rows.
    connection.execute(dashboard_sessions.delete().where(dashboard_sessions.c.expires_at <= now))
    connection.execute(
        dashboard_sessions.insert().values(
            token_hash=token_hash(token),
            account_id=key.account_id,
            api_key_id=key.id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + lifetime_ms,
        )
    )
    return DashboardSession(account_id=key.account_id, csrf_token=csrf_token)


def find_session(connection: Connection, token: str, *, now: int) -> DashboardSession | None:
    """The live session of ``token``, or None (expired, signed out, or its key revoked)."""
    row = connection.execute(
        sa.select(dashboard_sessions.c.account_id, dashboard_sessions.c.csrf_token)
        .select_from(
            dashboard_sessions.join(api_keys, api_keys.c.id == dashboard_sessions.c.api_key_id)
        )
        .where(
            dashboard_sessions.c.token_hash == token_hash(token),
            dashboard_sessions.c.expires_at > now,
            api_keys.c.revoked_at.is_(None),
        )
    ).first()
    return None if row is None else DashboardSession(row.account_id, row.csrf_token)


def end_session(connection: Connection, token: str) -> None:
    connection.execute(
        dashboard_sessions.delete().where(dashboard_sessions.c.token_hash == token_hash(token))
    )
