"""Real databases for tests: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL is the machine's own server (``KURIR_TEST_POSTGRES_URL``, by default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets a database of
its own, created from it and dropped afterwards. Where no server answers, the
PostgreSQL variants skip and say why.
"""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("KURIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class PostgresUnavailable(Exception):
    pass


async def _admin(statement: str) -> None:
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        raise PostgresUnavailable(f"no PostgreSQL at {ADMIN_URL}: {error}") from error
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; its URL. Dropped on exit."""
    name = f"kurir_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        # The admin URL may name a socket directory in its query (?host=/run/…).
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'kurir.db'}"


#: The kinds of database every database-backed test runs on, as fixture params.
DATABASE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def database_of_kind(kind: str, directory: Path) -> Iterator[str]:
    """An empty database of ``kind`` (a `DATABASE_KINDS` param); skips when PostgreSQL is away."""
    if kind == "sqlite":
        yield sqlite_url(directory)
        return
    try:
        with postgres_database() as url:
            yield url
    except PostgresUnavailable as error:
        pytest.skip(str(error))
