"""Alembic environment: runs migrations over Kurir's own async engine."""

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy import Connection

import kurir.transports  # noqa: F401  # the transports' own tables join the metadata
from kurir.store.database import Database
from kurir.store.tables import metadata

# An arbitrary constant naming Kurir's migration lock among advisory locks.
_LOCK_KEY = 0x6B75726972  # "kurir"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes of a cluster may start together; one migrates, the
            # others wait here and then find nothing left to do.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        # Read under the lock, so `kurir migrate` reports what this process did.
        revision = context.get_context().get_current_revision
        context.config.attributes["kurir_revision_before"] = revision()
        context.run_migrations()
        context.config.attributes["kurir_revision_after"] = revision()


async def _run_async(url: str) -> None:
    database = Database(url)
    try:
        await database.write(_run)
    finally:
        await database.dispose()


asyncio.run(_run_async(context.config.attributes["kurir_database_url"]))
