"""An account's contacts, their groups, and the recipients who opted out of broadcasts."""

from collections.abc import Collection, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

from kurir.domain.broadcast import RECIPIENT_OPTED_OUT
from kurir.domain.contacts import DEFAULT_OPT_OUT_WORDS, is_opt_out, opt_out_words
from kurir.store.broadcast_records import Contact, ContactsStored, NewContact
from kurir.store.lifecycle import broadcasting
from kurir.store.queries import dialect_insert
from kurir.store.tables import contacts, opt_outs

#: Phones per query in an IN list, well within every database's parameter limit.
_CHUNK = 5000
_FIELDS = ("name", *(f"opt{n}" for n in range(1, 8)))
DEFAULT_STOP_WORDS = opt_out_words(DEFAULT_OPT_OUT_WORDS)

_COLUMNS = (
    contacts.c.id,
    contacts.c.group_name.label("group"),
    contacts.c.phone,
    *(contacts.c[name] for name in _FIELDS),
    opt_outs.c.phone.is_not(None).label("opted_out"),
    contacts.c.created_at,
)
_WITH_OPT_OUTS = contacts.outerjoin(
    opt_outs,
    sa.and_(opt_outs.c.account_id == contacts.c.account_id, opt_outs.c.phone == contacts.c.phone),
)

T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _one_of(
    connection: Connection, column: sa.Column[str], phones: Sequence[str]
) -> sa.ColumnElement[bool]:
    """``column`` among ``phones``: on PostgreSQL one array parameter, elsewhere an IN list.

    An IN list is written out a placeholder per phone on each execution
    (SQLAlchemy's expanding parameter); for the 100,000 receivers of a
    broadcast that took more CPU than the queries, on PostgreSQL on the
    event loop. asyncpg sends an array as it is, and ``= ANY`` uses the index.
    """
    if connection.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(phones), type_=_PHONES))
    return column.in_(phones)


_PHONES = postgresql.ARRAY(sa.String)


def _contact(row: Any) -> Contact:
    # SQLite answers the opt-out test with 0 or 1.
    return Contact(**{**row._asdict(), "opted_out": bool(row.opted_out)})


def store_contacts(
    connection: Connection,
    *,
    account_id: int,
    group: str,
    new: Sequence[NewContact],
    update_existing: bool,
    now: int,
) -> ContactsStored:
    """Add ``new`` (one per phone) to the group; a phone already in it is kept or updated."""
    existing: set[str] = set()
    for chunk in _chunks([contact.phone for contact in new]):
        existing.update(
            connection.execute(
                sa.select(contacts.c.phone).where(
                    contacts.c.account_id == account_id,
                    contacts.c.group_name == group,
                    _one_of(connection, contacts.c.phone, chunk),
                )
            ).scalars()
        )
    insert = dialect_insert(connection, contacts)
    if update_existing:
        statement = insert.on_conflict_do_update(
            index_elements=[contacts.c.account_id, contacts.c.group_name, contacts.c.phone],
            set_={**{name: insert.excluded[name] for name in _FIELDS}, "updated_at": now},
        )
    else:
        statement = insert.on_conflict_do_nothing()
    rows: list[dict[str, Any]] = [
        {
            "account_id": account_id,
            "group_name": group,
            "phone": contact.phone,
            **{name: getattr(contact, name) for name in _FIELDS},
            "created_at": now,
            "updated_at": now,
        }
        for contact in new
        if update_existing or contact.phone not in existing
    ]
    for start in range(0, len(rows), _CHUNK):
        connection.execute(statement, rows[start : start + _CHUNK])
    known = sum(contact.phone in existing for contact in new)
    return ContactsStored(
        created=len(new) - known,
        updated=known if update_existing else 0,
        duplicates=0 if update_existing else known,
    )


def list_contacts(
    connection: Connection,
    *,
    account_id: int,
    group: str | None,
    limit: int,
    before: int | None = None,
) -> list[Contact]:
    """The account's contacts (of one group, if given), newest first, paged by ``before``."""
    query = (
        sa.select(*_COLUMNS)
        .select_from(_WITH_OPT_OUTS)
        .where(contacts.c.account_id == account_id)
        .order_by(contacts.c.id.desc())
        .limit(limit)
    )
    if group is not None:
        query = query.where(contacts.c.group_name == group)
    if before is not None:
        query = query.where(contacts.c.id < before)
    return [_contact(row) for row in connection.execute(query)]


def group_contacts(connection: Connection, *, account_id: int, group: str) -> list[Contact]:
    """Every contact of a group, in the order they were added: a broadcast's recipients."""
    query = (
        sa.select(*_COLUMNS)
        .select_from(_WITH_OPT_OUTS)
        .where(contacts.c.account_id == account_id, contacts.c.group_name == group)
        .order_by(contacts.c.id)
    )
    return [_contact(row) for row in connection.execute(query)]


def contacts_by_phone(
    connection: Connection, *, account_id: int, phones: Sequence[str]
) -> dict[str, Contact]:
    """The account's contact for each of ``phones`` that has one (the latest added)."""
    found: dict[str, Contact] = {}
    for chunk in _chunks(phones):
        query = (
            sa.select(*_COLUMNS)
            .select_from(_WITH_OPT_OUTS)
            .where(
                contacts.c.account_id == account_id, _one_of(connection, contacts.c.phone, chunk)
            )
            .order_by(contacts.c.id)
        )
        found.update((row.phone, _contact(row)) for row in connection.execute(query))
    return found


def delete_contacts(
    connection: Connection, *, account_id: int, phone: str, group: str | None
) -> int:
    """Remove the phone's contact from every group (or one); how many were removed."""
    statement = contacts.delete().where(
        contacts.c.account_id == account_id, contacts.c.phone == phone
    )
    if group is not None:
        statement = statement.where(contacts.c.group_name == group)
    return int(connection.execute(statement).rowcount)


def opted_out(connection: Connection, *, account_id: int, phones: Collection[str]) -> set[str]:
    """Those of ``phones`` that opted out of the account's broadcasts."""
    found: set[str] = set()
    for chunk in _chunks(list(phones)):
        found.update(
            connection.execute(
                sa.select(opt_outs.c.phone).where(
                    opt_outs.c.account_id == account_id,
                    _one_of(connection, opt_outs.c.phone, chunk),
                )
            ).scalars()
        )
    return found


def opt_out_if_stop(
    connection: Connection,
    account_id: int,
    sender: str,
    text: str | None,
    *,
    now: int,
    words: frozenset[str] = DEFAULT_STOP_WORDS,
) -> bool:
    """Opt ``sender`` out of the account's broadcasts if ``text`` is a stop word alone.

    To be called in the transaction that records an inbound text. The
    sender's waiting broadcast messages fail at once where planned, and when
    the planner reaches them otherwise; no later broadcast includes them.
    Returns whether the text opted the sender out.
    """
    if not is_opt_out(text, words):
        return False
    connection.execute(
        dialect_insert(connection, opt_outs)
        .values(account_id=account_id, phone=sender, opted_out_at=now)
        .on_conflict_do_nothing()
    )
    broadcasting.fail_planned_to(
        connection, account_id=account_id, recipient=sender, reason=RECIPIENT_OPTED_OUT, now=now
    )
    return True
