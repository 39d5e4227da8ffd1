"""Migrations build exactly the schema the queries are written against."""

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import kurir.transports  # noqa: F401  # the transports' own tables join the metadata
from kurir.store import accounts, migrate
from kurir.store.database import Database
from kurir.store.migrate import upgrade_to_head_async
from kurir.store.tables import broadcast_totals, broadcasts, messages, metadata
from tests.support.store_data import T0


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


async def test_the_broadcast_totals_of_existing_broadcasts_are_counted(database_url: str) -> None:
    # A database as 0012 left it: a broadcast's messages in several statuses.
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    config.attributes["kurir_database_url"] = database_url
    await asyncio.to_thread(command.upgrade, config, "0012")
    statuses = ["scheduled"] * 3 + ["sending", "delivered", "delivered", "failed"]

    def fill(connection: sa.Connection) -> int:
        account = accounts.create_account(connection, name="a", now=T0)
        device = accounts.add_device(
            connection,
            public_id="d",
            account_id=account.id,
            phone="628122222222",
            transport="sandbox",
            created_at=T0,
        )
        broadcast_ids = [
            connection.execute(
                broadcasts.insert()
                .values(
                    public_id=f"b{n}",
                    account_id=account.id,
                    device_id=device.id,
                    title="t",
                    type="text",
                    state="active",
                    starts_at=T0,
                    interval_from_ms=0,
                    interval_to_ms=0,
                    total=len(statuses) if n == 0 else 0,
                    created_at=T0,
                    updated_at=T0,
                )
                .returning(broadcasts.c.id)
            ).scalar_one()
            for n in range(2)
        ]
        ordinary = [("sent", None)]  # a message of no broadcast is not counted
        for n, (status, broadcast_id) in enumerate(
            [*((status, broadcast_ids[0]) for status in statuses), *ordinary]
        ):
            connection.execute(
                messages.insert().values(
                    message_id=f"m{n}",
                    account_id=account.id,
                    device_id=device.id,
                    recipient="628111",
                    content="{}",
                    status=status,
                    due_at=T0,
                    created_at=T0,
                    broadcast_id=broadcast_id,
                )
            )
        return int(broadcast_ids[0])

    database = Database(database_url)
    try:
        broadcast_id = await database.write(fill)
        await upgrade_to_head_async(database_url)
        rows = await database.read(
            lambda connection: connection.execute(
                sa.select(broadcast_totals).order_by(broadcast_totals.c.broadcast_id)
            ).all()
        )
    finally:
        await database.dispose()
    zero = dict.fromkeys(["queued", "sent", "read", "cancelled"], 0)
    counted = {"scheduled": 3, "sending": 1, "delivered": 2, "failed": 1, **zero}
    assert [row._asdict() for row in rows] == [
        {"broadcast_id": broadcast_id, **counted},
        {"broadcast_id": broadcast_id + 1, **dict.fromkeys(counted, 0)},
    ]
