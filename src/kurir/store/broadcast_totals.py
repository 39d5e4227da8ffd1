"""A broadcast's messages counted by status, kept exact as their statuses change.

`kurir.store.lifecycle`, the one owner of message status, reports each change
of a broadcast's message here (`count_moves`); the counts are written once,
at the end of the transaction that made the changes, so reading a broadcast's
totals costs one row however many messages it has, and is never off by a
change committed or not.

Why at the end: on PostgreSQL a count's row stays locked until the commit,
and every transaction that changes statuses locks the messages first. Were
the counts written as each change is made, a transaction holding one
broadcast's count while it goes on to lock more messages (the planner, from
one broadcast to the next) could wait on a transaction that holds those
messages and waits for that count. Written last, and in broadcast id order,
no transaction holds a count while it waits for anything but another count,
and those are taken in one order by all.

Ordinary messages (no broadcast) are passed over without a write.
"""

import functools
from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import Connection, Dialect
from sqlalchemy.dialects import postgresql

from kurir.domain.status import MessageStatus
from kurir.store.database import before_commit
from kurir.store.tables import broadcast_totals

#: A broadcast's message that changed status: ``(broadcast id, from, to)``.
Move = tuple[int, str, str]

_STATUSES = [status.value for status in MessageStatus]

_ADD = (
    broadcast_totals.update()
    .where(broadcast_totals.c.broadcast_id == sa.bindparam("in_broadcast"))
    .values({name: broadcast_totals.c[name] + sa.bindparam(f"add_{name}") for name in _STATUSES})
)


@functools.cache
def _add_sql(dialect: Dialect) -> str:
    """`_ADD` for the driver, its parameters in `_STATUSES` order, then the broadcast's id.

    For SQLite's rows, and PostgreSQL's one row when a transaction changed a
    single broadcast (most do): the rows go to the driver as tuples, where
    through SQLAlchemy each row's nine named parameters cost more than its
    UPDATE when a claim spans many broadcasts.
    """
    compiled = _ADD.compile(dialect=dialect)
    assert compiled.positiontup == [*(f"add_{name}" for name in _STATUSES), "in_broadcast"]
    return str(compiled)


# PostgreSQL: all added in one statement, from arrays. An UPDATE's join takes
# its row locks in no set order, so it joins the rows a subquery has locked
# in broadcast order (each is locked as the subquery gives it, before its update).
_INTEGERS = postgresql.ARRAY(sa.Integer)
_COUNTED = broadcast_totals.alias("counted")
_LOCKED = (
    sa.select(_COUNTED.c.broadcast_id)
    .where(_COUNTED.c.broadcast_id == sa.any_(sa.bindparam("ids", type_=_INTEGERS)))
    .order_by(_COUNTED.c.broadcast_id)
    .with_for_update()
    .subquery("locked")
)
_ADDED = (
    sa.func.unnest(
        *(sa.cast(sa.bindparam(name, type_=_INTEGERS), _INTEGERS) for name in ("ids", *_STATUSES))
    )
    .table_valued("broadcast_id", *_STATUSES)
    .render_derived(name="added")
)
_ADD_ALL = (
    broadcast_totals.update()
    .where(
        broadcast_totals.c.broadcast_id == _LOCKED.c.broadcast_id,
        _ADDED.c.broadcast_id == _LOCKED.c.broadcast_id,
    )
    .values({name: broadcast_totals.c[name] + _ADDED.c[name] for name in _STATUSES})
)


class _Pending:
    """The moves of one transaction, summed by broadcast, written before it commits."""

    def __init__(self) -> None:
        self.by_broadcast: dict[int, Counter[str]] = {}

    def __call__(self, connection: Connection) -> None:
        rows = [
            (*(added[name] for name in _STATUSES), broadcast_id)
            # One order of locks for all transactions.
            for broadcast_id, added in sorted(self.by_broadcast.items())
            if any(added.values())
        ]
        if not rows:
            return
        if len(rows) == 1 or connection.dialect.name != "postgresql":
            connection.exec_driver_sql(_add_sql(connection.dialect), rows)
            return
        columns = [list(column) for column in zip(*rows, strict=True)]
        ids = columns.pop()
        connection.execute(_ADD_ALL, {"ids": ids, **dict(zip(_STATUSES, columns, strict=True))})


def count_moves(connection: Connection, moves: Iterable[Move]) -> None:
    """Count these changes of broadcasts' messages, to be written before the commit."""
    pending: _Pending | None = None
    for broadcast_id, was, now in moves:
        if pending is None:
            pending = before_commit(connection, "broadcast_totals", _Pending)
        added = pending.by_broadcast.setdefault(broadcast_id, Counter())
        added[was] -= 1
        added[now] += 1


def start_totals(connection: Connection, broadcast_id: int, *, scheduled: int) -> None:
    """The counts of a new broadcast, whose messages are all stored scheduled."""
    connection.execute(
        broadcast_totals.insert().values(
            broadcast_id=broadcast_id, **{MessageStatus.SCHEDULED.value: scheduled}
        )
    )
