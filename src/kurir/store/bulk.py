"""Many rows into one table at the drivers' own speed, and ids for them made beforehand.

Through SQLAlchemy's executemany each row's parameters pass through the
compiled statement's processing, which costs several times the insert
itself: profiles of dispatch with webhooks put a fifth of the worker's time
in writing events that way. So on SQLite rows go straight to the driver's
executemany; on PostgreSQL a column becomes an array, and one statement
unnests them into rows, where rows of VALUES took ten times as long to send
and to plan.

`reserve_ids` gives new rows their primary keys before they are inserted, so
rows that refer to them (an event's deliveries) need no RETURNING, which
executemany does not offer on SQLite.
"""

import functools
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

#: PostgreSQL rows per statement: an array parameter of more is slow to send.
_ROWS_PER_STATEMENT = 10_000


def insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
    *,
    skip_conflicts: bool = False,
) -> None:
    """Insert ``rows``, each a tuple in ``columns``' order; other columns take their defaults.

    ``skip_conflicts`` skips a row that would break a unique constraint
    instead of failing (ON CONFLICT DO NOTHING); the caller counts what was
    stored if it must know. ``rows`` may be a generator: it is read once.
    """
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.executemany(_sqlite_insert(table, columns, skip_conflicts), rows)
        return
    statement = _postgres_insert(table, columns, skip_conflicts)
    for chunk in _chunks(rows):
        values = zip(columns, zip(*chunk, strict=True), strict=True)
        connection.execute(statement, {f"all_{name}": list(column) for name, column in values})


def _chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _ROWS_PER_STATEMENT:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def reserve_ids(connection: Connection, table: sa.Table, count: int) -> list[int]:
    """``count`` unused values of ``table``'s integer ``id``, ascending, for rows to insert.

    On SQLite this must run in the write transaction that inserts them: its
    single writer is what keeps another from taking the same ids. On
    PostgreSQL they come from the column's sequence, as a default would.
    """
    if count <= 0:
        return []
    if connection.dialect.name == "sqlite":
        highest = connection.execute(_highest_id(table)).scalar()
        first = (highest or 0) + 1
        return list(range(first, first + count))
    return sorted(connection.execute(_next_ids(table), {"count": count}).scalars())


@functools.cache
def _highest_id(table: sa.Table) -> sa.Select[Any]:
    return sa.select(sa.func.max(table.c.id))


@functools.cache
def _next_ids(table: sa.Table) -> sa.Select[Any]:
    sequence = sa.func.pg_get_serial_sequence(table.name, "id")
    count = sa.bindparam("count", type_=sa.Integer)
    return sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))


@functools.cache
def _sqlite_insert(table: sa.Table, columns: tuple[str, ...], skip_conflicts: bool) -> str:
    statement = sqlite.insert(table).values({name: sa.bindparam(name) for name in columns})
    if skip_conflicts:
        statement = statement.on_conflict_do_nothing()
    compiled = statement.compile(dialect=sqlite.dialect())
    # Rows are passed positionally, in the order the statement names them.
    assert tuple(compiled.positiontup or ()) == columns
    return str(compiled)


@functools.cache
def _postgres_insert(table: sa.Table, columns: tuple[str, ...], skip_conflicts: bool) -> sa.Insert:
    unnested = (
        sa.func.unnest(
            *(
                sa.cast(sa.bindparam(f"all_{name}"), postgresql.ARRAY(table.c[name].type))
                for name in columns
            )
        )
        .table_valued(*columns)
        .render_derived()
    )
    statement = postgresql.insert(table).from_select(list(columns), sa.select(*unnested.c))
    return statement.on_conflict_do_nothing() if skip_conflicts else statement
