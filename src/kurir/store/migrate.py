"""Bring a database to the schema this version of Kurir expects."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

_MIGRATIONS = Path(__file__).with_name("migrations")


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["kurir_database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Apply every migration the database lacks. Safe to run again."""
    command.upgrade(_config(url), "head")


async def upgrade_to_head_async(url: str) -> None:
    """The same, from inside a running event loop (alembic's env runs its own)."""
    await asyncio.to_thread(upgrade_to_head, url)
