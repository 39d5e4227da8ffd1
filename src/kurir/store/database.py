"""Engines for the one database Kurir keeps: SQLite embedded, or PostgreSQL.

Callers pass the URL users write (``sqlite:///data/kurir.db``,
``postgresql://user@host/db``); the async driver is chosen here.
"""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Long enough to ride out another process's commit, short enough that a stuck
# database surfaces as an error instead of a hung request.
SQLITE_BUSY_TIMEOUT_MS = 5000


class DatabaseURLError(ValueError):
    """A database URL Kurir cannot use."""


def async_url(url: str) -> sa.URL:
    """The URL with the async driver Kurir uses for its database."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise DatabaseURLError(f"unsupported database URL scheme {parsed.drivername!r}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class Database:
    """The engines of one database.

    SQLite allows one writer at a time. Rather than let in-process writers
    collide and sleep in SQLite's busy handler, every write goes through a pool
    of one connection, so they queue in asyncio; reads use their own pool and,
    in WAL mode, never wait for the writer. On PostgreSQL both are one pool.
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        target = async_url(url)
        if self.is_sqlite:
            _ensure_sqlite_directory(target)
            # Every use of the writer is an explicit transaction that ends in commit
            # or rollback, so resetting connections on return is only a wasted
            # round trip to the database thread per transaction.
            self.writer = create_async_engine(
                target, pool_size=1, max_overflow=0, pool_reset_on_return=None
            )
            self.reader = create_async_engine(target, pool_size=4, max_overflow=0)
            _configure_sqlite(self.writer, begin="BEGIN IMMEDIATE")
            _configure_sqlite(self.reader, begin="BEGIN")
        else:
            self.writer = create_async_engine(
                target, pool_size=pool_size, max_overflow=0, pool_pre_ping=True
            )
            self.reader = self.writer

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _ensure_sqlite_directory(url: sa.URL) -> None:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    """WAL, full durability and explicit transactions on every connection.

    pysqlite opens transactions lazily and never for reads; taking over BEGIN
    makes each transaction a real one, and BEGIN IMMEDIATE on the writer takes
    the write lock up front, so a transaction never fails halfway on a lock
    upgrade it cannot wait for.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit has reached the disk before the client hears "ok".
        # Group commit pays the fsync once per batch, not once per message.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)
