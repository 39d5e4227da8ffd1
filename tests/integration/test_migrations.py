"""Migrations build exactly the schema the queries are written against."""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import kurir.transports  # noqa: F401  # the transports' own tables join the metadata
from kurir.store import migrate
from kurir.store.database import Database
from kurir.store.migrate import upgrade_to_head_async
from kurir.store.tables import metadata


def _differences(connection: sa.Connection) -> tuple[list[Any], str | None]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            # Alembic reads SQLite's DEFAULT '' back as a different empty
            # string and reports it as a change; PostgreSQL reflects defaults
            # faithfully, so defaults are compared there.
            "compare_server_default": connection.dialect.name == "postgresql",
        },
    )
    return compare_metadata(context, metadata), context.get_current_revision()


async def test_migrations_apply_twice_and_match_the_tables(database_url: str) -> None:
    await upgrade_to_head_async(database_url)
    # A second run (a restart, or a second process) finds nothing to do.
    await upgrade_to_head_async(database_url)

    database = Database(database_url)
    try:
        differences, revision = await database.read(_differences)
    finally:
        await database.dispose()
    assert differences == []
    scripts = ScriptDirectory(str(Path(migrate.__file__).with_name("migrations")))
    assert revision == scripts.get_current_head()


async def test_sqlite_connections_use_wal_and_full_sync(sqlite_database_url: str) -> None:
    await upgrade_to_head_async(sqlite_database_url)
    database = Database(sqlite_database_url)
    try:
        for run in (database.read, database.write):
            settings = await run(
                lambda connection: [
                    connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "synchronous", "foreign_keys")
                ]
            )
            assert settings == ["wal", 2, 1]  # 2: FULL
    finally:
        await database.dispose()
