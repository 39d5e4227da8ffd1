"""Alembic environment: runs migrations over Kurir's own async engine."""

import asyncio

from alembic import context
from sqlalchemy import Connection

from kurir.store.database import Database
from kurir.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    database = Database(url)
    try:
        async with database.writer.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


asyncio.run(_run_async(context.config.attributes["kurir_database_url"]))
