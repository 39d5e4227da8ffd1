"""Bring a database to the schema this version of Kurir expects."""

import asyncio
from pathlib import Path

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

_MIGRATIONS = Path(__file__).with_name("migrations")


class Upgrade(msgspec.Struct, frozen=True):
    """What an upgrade did: the schema's revision before (None: no schema yet) and after."""

    before: str | None
    after: str


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["kurir_database_url"] = url
    return config


def current_revision(connection: Connection) -> str | None:
    """The schema's revision, or None for a database without Kurir's schema."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str | None:
    """The revision this Kurir's migrations end at: what `upgrade_to_head` brings a schema to."""
    return ScriptDirectory.from_config(_config(url)).get_current_head()


def upgrade_to_head(url: str) -> Upgrade:
    """Apply every migration the database lacks. Safe to run again."""
    config = _config(url)
    command.upgrade(config, "head")
    # Recorded by the environment inside the migrating transaction (see env.py).
    return Upgrade(
        before=config.attributes["kurir_revision_before"],
        after=config.attributes["kurir_revision_after"],
    )


async def upgrade_to_head_async(url: str) -> Upgrade:
    """The same, from inside a running event loop (alembic's env runs its own)."""
    return await asyncio.to_thread(upgrade_to_head, url)
