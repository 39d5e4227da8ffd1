"""The message table read as a queue: which messages a claim takes.

Only reading here; `lifecycle` makes the claim, the one status change.
"""

from typing import Any

import sqlalchemy as sa

from kurir.domain.status import CLAIMABLE, MessageStatus
from kurir.store.tables import devices, messages

_CLAIMABLE = [str(s) for s in CLAIMABLE]


def claimable(dialect: str, limits: int) -> tuple[sa.Select[Any], sa.ColumnElement[Any]]:
    """The ids a claim takes (on PostgreSQL locked, with their statuses), and the test
    each must pass again once locked.

    For a dialect and a number of distinct per-device limits (the claim is
    built once for each: put together on each call, it cost the writer thread
    more than the claim itself). A device's claimable messages lie in three ranges of the index
    on (status, device_id, due_at, id): scheduled and queued ones that are
    due, and sending ones whose lease ran out. Each range is read from its
    head in claim order and left after the largest limit, and only those
    heads are ranked, so a claim costs what it returns however many messages
    are scheduled behind. (One condition with an OR of "due" and "lease ran
    out" let SQLite use only the device_id part of an index and read every
    waiting message of the device.)
    """
    now = sa.bindparam("now", type_=sa.BigInteger)

    def head(status: str, claimable: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(messages.c.id, messages.c.device_id, messages.c.due_at)
            .where(messages.c.status == status, messages.c.device_id == devices.c.id, claimable)
            .order_by(messages.c.due_at, messages.c.id)
            .limit(sa.bindparam("head_limit", type_=sa.Integer))
        )

    heads = [head(status, messages.c.due_at <= now) for status in _CLAIMABLE]
    heads.append(head(MessageStatus.SENDING.value, messages.c.lease_until < now))
    held = sa.and_(
        devices.c.id.in_(sa.bindparam("device_ids", expanding=True)),
        devices.c.removed_at.is_(None),
        devices.c.lease_owner == sa.bindparam("worker"),
        devices.c.lease_until >= now,
    )
    candidates: sa.Subquery
    if dialect == "postgresql":
        per_device = sa.union_all(*heads).lateral("head")
        candidates = (
            sa.select(per_device).select_from(devices.join(per_device, sa.true())).where(held)
        ).subquery()
    else:
        # SQLite has no LATERAL, and no LIMIT on a member of a UNION: each
        # head is a subquery of its own, run once per device by a correlated IN.
        union = sa.union_all(*(sa.select(h.correlate(devices).subquery()) for h in heads))
        candidate = messages.alias("candidate")
        candidates = (
            sa.select(candidate.c.id, candidate.c.device_id, candidate.c.due_at)
            .select_from(
                devices.join(candidate, candidate.c.id.in_(sa.select(union.subquery().c.id)))
            )
            .where(held)
        ).subquery()

    ranked = sa.select(
        candidates.c.id,
        candidates.c.device_id,
        sa.func.row_number()
        .over(
            partition_by=candidates.c.device_id,
            order_by=(candidates.c.due_at, candidates.c.id),
        )
        .label("position"),
    ).subquery()
    device_limit = sa.case(
        *(
            (
                ranked.c.device_id.in_(sa.bindparam(f"device_ids_{n}", expanding=True)),
                sa.bindparam(f"limit_{n}", type_=sa.Integer),
            )
            for n in range(limits)
        )
    )
    chosen = sa.select(ranked.c.id).where(ranked.c.position <= device_limit)
    if dialect == "postgresql":
        # Locked, with the status each had when it was locked: the claim's to count.
        chosen = (
            sa.select(messages.c.id, messages.c.status)
            .where(messages.c.id.in_(chosen))
            .with_for_update(skip_locked=True)
        )
    # Checked again on the locked rows: another worker may have claimed one
    # since. A CASE, not an OR: SQLite would read an OR's terms through the
    # index (every scheduled message) rather than look up the chosen ids.
    still_claimable = sa.case(
        (messages.c.status == MessageStatus.SENDING, messages.c.lease_until < now),
        else_=sa.and_(messages.c.status.in_(_CLAIMABLE), messages.c.due_at <= now),
    )
    return chosen, still_claimable
