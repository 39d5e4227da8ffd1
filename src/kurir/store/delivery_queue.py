"""The webhook outbox as a queue: statements that find due deliveries at index-range heads.

Built once and run by `kurir.store.deliveries`, which owns every change of a
delivery's state. As for messages (`kurir.store.lifecycle`), each reads an
endpoint's deliveries from the head of their range of the index on
(status, endpoint_id, due_at, id), so neither costs more with a longer backlog.
"""

import functools
from typing import Any

import sqlalchemy as sa

from kurir.domain.events import DeliveryStatus
from kurir.store.tables import webhook_deliveries, webhook_endpoints

_deliveries = webhook_deliveries
_endpoints = webhook_endpoints
_PENDING = DeliveryStatus.PENDING.value
_DELIVERING = DeliveryStatus.DELIVERING.value


@functools.lru_cache(maxsize=16)
def claim_statement(dialect: str, partial_limits: int) -> sa.Update:
    """The claim, for a dialect and a number of distinct reduced per-endpoint limits.

    Its parameters are `kurir.store.deliveries.claim_due_deliveries`'s.

    As `kurir.store.lifecycle.sending._claim_statements` does for messages: an
    endpoint's claimable deliveries lie in two ranges of the index on
    (status, endpoint_id, due_at, id), pending ones that are due and
    delivering ones whose lease ran out; each is read from its head and
    left after ``per_endpoint`` rows, so a claim costs what it returns
    however long an endpoint's backlog.
    """
    now = sa.bindparam("now", type_=sa.BigInteger)

    def head(status: str, claimable: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(_deliveries.c.id, _deliveries.c.endpoint_id, _deliveries.c.due_at)
            .where(
                _deliveries.c.status == status,
                _deliveries.c.endpoint_id == _endpoints.c.id,
                claimable,
            )
            .order_by(_deliveries.c.due_at, _deliveries.c.id)
            .limit(sa.bindparam("per_endpoint", type_=sa.Integer))
        )

    heads = [
        head(_PENDING, _deliveries.c.due_at <= now),
        head(_DELIVERING, _deliveries.c.lease_until < now),
    ]
    open_endpoint = sa.and_(
        _endpoints.c.enabled.is_(True),
        _endpoints.c.id.not_in(sa.bindparam("full", expanding=True)),
    )
    candidates: sa.Subquery
    if dialect == "postgresql":
        per_endpoint = sa.union_all(*heads).lateral("head")
        candidates = (
            sa.select(per_endpoint)
            .select_from(_endpoints.join(per_endpoint, sa.true()))
            .where(open_endpoint)
        ).subquery()
    else:
        # SQLite has no LATERAL, and no LIMIT on a member of a UNION: each
        # head is a subquery of its own, run once per endpoint by a correlated IN.
        union = sa.union_all(*(sa.select(h.correlate(_endpoints).subquery()) for h in heads))
        candidate = _deliveries.alias("candidate")
        candidates = (
            sa.select(
                candidate.c.id,
                # "+ 0": partitioned by the bare column, the ranking below made
                # SQLite scan every delivery in the order of the index on
                # (endpoint_id, event_at), rather than look up the heads' ids.
                (candidate.c.endpoint_id + 0).label("endpoint_id"),
                candidate.c.due_at,
            )
            .select_from(
                _endpoints.join(candidate, candidate.c.id.in_(sa.select(union.subquery().c.id)))
            )
            .where(open_endpoint)
        ).subquery()

    ranked = sa.select(
        candidates.c.id,
        candidates.c.endpoint_id,
        candidates.c.due_at,
        sa.func.row_number()
        .over(
            partition_by=candidates.c.endpoint_id,
            order_by=(candidates.c.due_at, candidates.c.id),
        )
        .label("position"),
    ).subquery()
    endpoint_limit: sa.ColumnElement[Any] = sa.bindparam("per_endpoint", type_=sa.Integer)
    if partial_limits:
        endpoint_limit = sa.case(
            *(
                (
                    ranked.c.endpoint_id.in_(sa.bindparam(f"endpoint_ids_{n}", expanding=True)),
                    sa.bindparam(f"free_{n}", type_=sa.Integer),
                )
                for n in range(partial_limits)
            ),
            else_=endpoint_limit,
        )
    chosen = (
        sa.select(ranked.c.id)
        .where(ranked.c.position <= endpoint_limit)
        .order_by(ranked.c.due_at, ranked.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    if dialect == "postgresql":
        chosen = (
            sa.select(_deliveries.c.id)
            .where(_deliveries.c.id.in_(chosen))
            .with_for_update(skip_locked=True)
        )
    # Checked again on the locked rows: another worker may have claimed one since.
    still_claimable = sa.case(
        (_deliveries.c.status == _DELIVERING, _deliveries.c.lease_until < now),
        else_=sa.and_(_deliveries.c.status == _PENDING, _deliveries.c.due_at <= now),
    )
    return (
        _deliveries.update()
        .where(_deliveries.c.id.in_(chosen), still_claimable)
        .values(
            status=_DELIVERING,
            lease_owner=sa.bindparam("worker"),
            lease_until=sa.bindparam("lease_end", type_=sa.BigInteger),
            attempts=_deliveries.c.attempts + 1,
        )
        .returning(
            _deliveries.c.id,
            _deliveries.c.public_id,
            _deliveries.c.endpoint_id,
            _deliveries.c.attempts,
            _deliveries.c.event_at,
            _deliveries.c.due_at,
        )
    )


def _earliest(column: sa.ColumnElement[Any], status: str) -> sa.ScalarSelect[Any]:
    """``column``'s least value among an endpoint's deliveries in ``status``."""
    return (
        sa.select(column)
        .where(_deliveries.c.status == status, _deliveries.c.endpoint_id == _endpoints.c.id)
        .order_by(column)
        .limit(1)
        .scalar_subquery()
    )


#: Per enabled endpoint not in ``exclude``: its earliest due pending delivery,
#: and the earliest end of a lease on one being delivered.
NEXT_DUE = sa.select(
    _earliest(_deliveries.c.due_at, _PENDING),
    # Few: only those in flight, read whole.
    _earliest(_deliveries.c.lease_until, _DELIVERING),
).where(
    _endpoints.c.enabled.is_(True),
    _endpoints.c.id.not_in(sa.bindparam("exclude", expanding=True)),
)
