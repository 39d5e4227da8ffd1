"""Engines for the one database Kurir keeps: SQLite embedded, or PostgreSQL.

Callers pass the URL users write (``sqlite:///data/kurir.db``,
``postgresql://user@host/db``); the driver is chosen here: the standard
sqlite3 module on threads, or asyncpg.
"""

import asyncio
import collections
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

# Long enough to ride out another process's commit, short enough that a stuck
# database surfaces as an error instead of a hung request.
SQLITE_BUSY_TIMEOUT_MS = 5000


#: What a failing database raises: SQLAlchemy's wrapper of a driver error, or
#: the sqlite3 module's own error where the SQLite writer calls it directly.
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, sqlite3.Error)


class DatabaseURLError(ValueError):
    """A database URL Kurir cannot use."""


def driver_url(url: str) -> sa.URL:
    """The URL with the driver Kurir uses: pysqlite on threads, asyncpg on the loop."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise DatabaseURLError(f"unsupported database URL scheme {parsed.drivername!r}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


R = TypeVar("R")
#: A query: plain SQLAlchemy Core on a connection, the same for both databases.
Work = Callable[[sa.Connection], R]

# Where a transaction keeps the signals it raised (see `signal_after_commit`).
_SIGNALS = "kurir.signals"
# Where it keeps what is to run before it commits (see `before_commit`).
_BEFORE_COMMIT = "kurir.before_commit"

Flush = TypeVar("Flush", bound=Callable[[sa.Connection], None])


def signal_after_commit(connection: sa.Connection, signal: str) -> bool:
    """Have ``signal``'s listeners called once this transaction has committed.

    For news that others in the process act on, such as "deliveries are
    due", raised by a query deep inside whichever write made it true: the
    write's caller need not know. Returns whether the transaction had not
    raised it yet. Only `Database.write` transactions announce their signals.
    """
    raised: set[str] = connection.info.setdefault(_SIGNALS, set())
    if signal in raised:
        return False
    raised.add(signal)
    return True


def before_commit(connection: sa.Connection, key: str, make: Callable[[], Flush]) -> Flush:
    """This transaction's ``key`` work, made by ``make`` on first use; it runs before the commit.

    For what a query gathers over the whole transaction and writes once, at
    its end: `kurir.store.broadcast_totals` takes its row locks there, after
    every other lock of the transaction, so that transactions take them in one
    order. Only `Database.write` transactions run it, as they announce signals.
    """
    pending: dict[str, Any] = connection.info.setdefault(_BEFORE_COMMIT, {})
    found = pending.get(key)
    if found is None:
        found = pending[key] = make()
    return cast(Flush, found)


class Database:
    """One database, and the way queries reach it without blocking the event loop.

    Queries are synchronous functions of a connection (see `accounts`,
    `messages`, `leases`). On PostgreSQL they run through asyncpg on the
    event loop (SQLAlchemy's ``run_sync``). On SQLite they run on threads with
    the plain sqlite3 driver: every write on one writer thread holding the
    single write connection, so writers queue instead of colliding in
    SQLite's busy handler and a transaction costs one thread hop (through
    aiosqlite it cost one per statement, about 1.5 ms a batch against 0.2 ms);
    reads on a few threads of their own, which WAL never makes wait.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        execution_options: Mapping[str, object] | None = None,
    ) -> None:
        """``execution_options`` reach every query (``connection.get_execution_options()``)."""
        self.url = url
        self.is_sqlite = is_sqlite(url)
        self._signal_listeners: dict[str, list[Callable[[], None]]] = {}
        options = dict(execution_options or {})
        target = driver_url(url)
        if self.is_sqlite:
            _ensure_sqlite_directory(target)
            self._sqlite_writer = _SqliteWriter(
                _sqlite_engine(target, pool_size=1, begin="BEGIN IMMEDIATE", options=options)
            )
            self._sqlite_reader = _sqlite_engine(
                target, pool_size=4, begin="BEGIN", options=options
            )
            self._read_threads = ThreadPoolExecutor(4, thread_name_prefix="kurir-sqlite-read")
        else:
            self._postgres = create_async_engine(
                target,
                pool_size=pool_size,
                max_overflow=0,
                pool_pre_ping=True,
                execution_options=options,
                hide_parameters=True,  # see _sqlite_engine
            )

    def on_signal(self, signal: str, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each committed write that raised ``signal``."""
        self._signal_listeners.setdefault(signal, []).append(listener)

    async def read(self, work: Work[R]) -> R:
        """Run ``work`` in a transaction that is rolled back (it only reads)."""
        if self.is_sqlite:
            return await asyncio.get_running_loop().run_in_executor(
                self._read_threads, _in_connection, self._sqlite_reader, work
            )
        async with self._postgres.connect() as connection:
            return await connection.run_sync(work)

    @property
    def background_waits(self) -> int:
        """How many background writes so far waited for others (SQLite; see `write`).

        A caller that reads this before and after its own background writes
        learns whether the writer was busy with other work meanwhile. Always
        0 on PostgreSQL, which has no single writer to wait for.
        """
        return self._sqlite_writer.background_waits if self.is_sqlite else 0

    async def write(self, work: Work[R], *, background: bool = False) -> R:
        """Run ``work`` in a transaction that commits when it returns.

        After the commit, the listeners of the signals it raised are called.
        ``background``, for work that must not hold up sends (webhook
        deliveries' bookkeeping): on SQLite the writer runs the other writes
        queued meanwhile first, up to eight in a row (`_Lanes`). On
        PostgreSQL, which has no single writer, it makes no difference.
        """
        raised: set[str] = set()

        def tracked(connection: sa.Connection) -> R:
            # The connection outlives its transactions: what one that failed
            # raised is still on it (after a failure it may not be readable).
            connection.info.pop(_SIGNALS, None)
            connection.info.pop(_BEFORE_COMMIT, None)
            result = work(connection)
            for flush in connection.info.pop(_BEFORE_COMMIT, {}).values():
                flush(connection)
            raised.update(connection.info.pop(_SIGNALS, ()))
            return result

        if self.is_sqlite:
            result = await self._sqlite_writer.run(tracked, background=background)
        else:
            async with self._postgres.begin() as connection:
                result = await connection.run_sync(tracked)
        for signal in raised:
            for listener in self._signal_listeners.get(signal, ()):
                listener()
        return result

    async def dispose(self) -> None:
        if self.is_sqlite:
            await self._sqlite_writer.close()
            self._read_threads.shutdown()
            self._sqlite_reader.dispose()
        else:
            await self._postgres.dispose()


def _in_connection(engine: sa.Engine, work: Work[R]) -> R:
    with engine.connect() as connection:
        return work(connection)


class _SqliteWriter:
    """The one write connection, on a thread of its own for the process's life.

    The thread holds the connection: checking it out of a pool for each
    transaction and resetting it on the way back cost more GIL time than the
    accepted batch's INSERT. Jobs come in on a queue of two lanes (`_Lanes`)
    and results go back through the loop's ``call_soon_threadsafe``; ``run_in_executor`` wrapped
    each job in two chained futures (an empty write transaction cost about
    46 us of CPU that way, 40 us this way).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._connection: sa.Connection | None = None
        self._jobs = _Lanes()
        threading.Thread(target=self._serve, name="kurir-sqlite-write", daemon=True).start()

    @property
    def background_waits(self) -> int:
        return self._jobs.background_waits

    async def run(self, work: Work[R], *, background: bool = False) -> R:
        """``work`` in a transaction that commits when it returns."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        self._jobs.put((loop, done, work), background=background)
        return await done

    async def close(self) -> None:
        """After the jobs already queued: close the connection and end the thread."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._jobs.stop((loop, done, None))
        await done

    def _serve(self) -> None:
        while True:
            loop, done, work = self._jobs.get()
            if work is None:
                self._close()
                _answer(loop, done, None, None)
                return
            try:
                result = self._in_transaction(work)
            except BaseException as error:  # the caller's to handle, not this thread's
                _answer(loop, done, None, error)
            else:
                _answer(loop, done, result, None)

    def _in_transaction(self, work: Work[R]) -> R:
        connection = self._connection
        if connection is None or connection.invalidated:
            if connection is not None:  # lost to a disconnect error: start afresh
                connection.close()
            connection = self._connection = self._engine.connect()
        with connection.begin():
            return work(connection)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


#: A job for the writer thread: where to answer, and the work (None: stop).
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Work[Any] | None]
#: How many foreground jobs may go before a waiting background job.
_MOST_PASSED = 8


class _Lanes:
    """The writer's queue: foreground jobs in order, background ones when none waits.

    A background job waits while foreground jobs are queued, but for no more
    than `_MOST_PASSED` of them in a row, so it runs however busy the writer
    stays. Sends come first: with a webhook endpoint subscribed to every
    event, sandbox dispatch with one queue ran at 0.38 of dispatch without
    an endpoint; with the lanes and the deliverer's `InFlightLimit`, at 0.59.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition(threading.Lock())
        self._foreground: collections.deque[_Job] = collections.deque()
        self._background: collections.deque[_Job] = collections.deque()
        self._stop: _Job | None = None
        # Foreground jobs taken while a background one waited.
        self._passed = 0
        #: Background jobs that waited for a foreground one.
        self.background_waits = 0

    def put(self, job: _Job, *, background: bool) -> None:
        with self._ready:
            (self._background if background else self._foreground).append(job)
            self._ready.notify()

    def stop(self, job: _Job) -> None:
        """Hand out ``job`` once every other job queued has been."""
        with self._ready:
            self._stop = job
            self._ready.notify()

    def get(self) -> _Job:
        with self._ready:
            while not self._foreground and not self._background:
                if self._stop is not None:
                    return self._stop
                self._ready.wait()
            if self._background and (not self._foreground or self._passed >= _MOST_PASSED):
                if self._passed:
                    self.background_waits += 1
                    self._passed = 0
                return self._background.popleft()
            if self._background:
                self._passed += 1
            return self._foreground.popleft()


def _answer(
    loop: asyncio.AbstractEventLoop,
    done: "asyncio.Future[Any]",
    result: object,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if done.cancelled():  # the caller gave up waiting; the work was done anyway
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
        loop.call_soon_threadsafe(settle)


def _sqlite_engine(
    url: sa.URL, *, pool_size: int, begin: str, options: dict[str, object]
) -> sa.Engine:
    # Connections move between the threads of one executor: allowed, since
    # a connection is only ever used by one thread at a time.
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"check_same_thread": False},
        execution_options=options,
        # A statement's error (logged with its traceback) names no values: they
        # may be a webhook's secret or a device's sealed config.
        hide_parameters=True,
    )
    _configure_sqlite(engine, begin=begin)
    return engine


def _ensure_sqlite_directory(url: sa.URL) -> None:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: sa.Engine, *, begin: str) -> None:
    """WAL, full durability and explicit transactions on every connection.

    pysqlite opens transactions lazily and never for reads; taking over BEGIN
    makes each transaction a real one, and BEGIN IMMEDIATE on the writer takes
    the write lock up front, so a transaction never fails halfway on a lock
    upgrade it cannot wait for.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit has reached the disk before the client hears "ok".
        # Group commit pays the fsync once per batch, not once per message.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A multi-row INSERT inside a transaction keeps a statement journal to
        # undo itself on a conflict; in a temporary file that was an open, a
        # write and an unlink for every accepted batch.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Straight to the driver: through exec_driver_sql, SQLAlchemy's
        # execution machinery cost more than the statement itself.
        connection.connection.driver_connection.execute(begin)  # type: ignore[union-attr]  # a connection that is beginning has its driver's
