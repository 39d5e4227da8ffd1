"""The webhook outbox: every change of a delivery's state goes through this module.

A delivery row is one event for one endpoint, written by `kurir.store.events`
in the transaction that made the event. Workers claim due ones under a lease
and record each attempt's outcome only while holding it; a lease that ran
out (its worker died or stalled) lets another worker claim the delivery
again, with the same ``webhook-id``.
"""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import DeliveryStatus
from kurir.domain.retry import DeliveryRetryPolicy
from kurir.domain.webhook_outcomes import Verdict, after_attempt, disabled_reason
from kurir.store.bulk import insert_rows
from kurir.store.database import signal_after_commit
from kurir.store.delivery_queue import NEXT_DUE, claim_statement
from kurir.store.postgres import notify_due_deliveries
from kurir.store.records import ClaimedDelivery, DeliveryAttempt, RecordedAttempt
from kurir.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from kurir.store.webhook_records import RedeliveryRefused

#: How long a delivery is retried after its event, unless the store is told otherwise.
DEFAULT_DEADLINE_MS = 24 * 3600 * 1000
#: The execution option (`kurir.store.database.Database`) by which a store is told
#: otherwise: the operator's KURIR_WEBHOOK_DEADLINE_SECONDS, in ms.
DEADLINE_OPTION = "kurir_webhook_deadline_ms"


def deadline_ms_of(connection: Connection) -> int:
    """How long new deliveries are tried: the store's setting (see `kurir.store.Store`)."""
    deadline: int = connection.get_execution_options().get(DEADLINE_OPTION, DEFAULT_DEADLINE_MS)
    return deadline


# -- the workers' side: claims, attempts, outcomes --------------------------------

#: The signal (`kurir.store.database.signal_after_commit`) of a commit that made
#: deliveries due; the Store's delivery listeners hear it.
DELIVERIES_DUE = "webhook_deliveries_due"

_deliveries = webhook_deliveries
_endpoints = webhook_endpoints
_PENDING = DeliveryStatus.PENDING.value
_DELIVERING = DeliveryStatus.DELIVERING.value


def announce_due_deliveries(connection: Connection) -> None:
    """Wake the webhook workers once this transaction commits: it made deliveries due.

    Those of this process through the Store's listeners; on PostgreSQL those
    of every process, by a NOTIFY sent in the transaction (once however often
    this is called in it).
    """
    if signal_after_commit(connection, DELIVERIES_DUE) and connection.dialect.name == "postgresql":
        notify_due_deliveries(connection)


_CLAIMED_DETAILS = (
    sa.select(
        _deliveries.c.id,
        events.c.body,
        _endpoints.c.public_id.label("endpoint"),
        _endpoints.c.url,
        _endpoints.c.secret,
        _endpoints.c.previous_secret,
        _endpoints.c.previous_secret_until,
    )
    .select_from(
        _deliveries.join(events, events.c.id == _deliveries.c.event_id).join(
            _endpoints, _endpoints.c.id == _deliveries.c.endpoint_id
        )
    )
    .where(_deliveries.c.id.in_(sa.bindparam("pks", expanding=True)))
)


def claim_due_deliveries(
    connection: Connection,
    *,
    worker: str,
    now: int,
    lease_ms: int,
    per_endpoint: int,
    busy: Mapping[int, int],
    limit: int,
) -> list[ClaimedDelivery]:
    """Lease due deliveries of enabled endpoints, oldest first, at most ``limit`` in all.

    Each endpoint gets at most ``per_endpoint`` less what ``worker`` already
    has in flight for it (``busy``), so a slow endpoint fills only its own
    slots. Also takes back deliveries whose lease ran out while
    ``delivering``: their worker died mid-attempt. Deliveries of a paused or
    disabled endpoint are not claimed; they wait, their deadline unchanged.
    """
    if limit <= 0 or per_endpoint <= 0:
        return []
    slots = {endpoint: per_endpoint - used for endpoint, used in busy.items() if used > 0}
    full = [endpoint for endpoint, free in slots.items() if free <= 0]
    partial: dict[int, list[int]] = {}
    for endpoint, free in slots.items():
        if free > 0:
            partial.setdefault(free, []).append(endpoint)
    parameters: dict[str, Any] = {
        "worker": worker,
        "now": now,
        "lease_end": now + lease_ms,
        "per_endpoint": per_endpoint,
        "full": full,
        "limit": limit,
    }
    for n, (free, endpoint_ids) in enumerate(partial.items()):
        parameters[f"endpoint_ids_{n}"] = endpoint_ids
        parameters[f"free_{n}"] = free
    statement = claim_statement(connection.dialect.name, len(partial))
    claimed = {row.id: row for row in connection.execute(statement, parameters)}
    if not claimed:
        return []
    details = connection.execute(_CLAIMED_DETAILS, {"pks": list(claimed)})
    found = [
        ClaimedDelivery(
            id=row.id,
            public_id=claimed[row.id].public_id,
            endpoint_id=claimed[row.id].endpoint_id,
            endpoint=row.endpoint,
            url=row.url,
            secrets=_signing_secrets(row, now),
            body=row.body.encode(),
            attempts=claimed[row.id].attempts,
        )
        for row in details
    ]
    return sorted(found, key=lambda d: (claimed[d.id].due_at, d.id))


def _signing_secrets(row: Any, now: int) -> tuple[str, ...]:
    """The current secret, and the previous one until its overlap after a rotation ends."""
    until = row.previous_secret_until
    if row.previous_secret is not None and until is not None and now < until:
        return (row.secret, row.previous_secret)
    return (row.secret,)


def next_due(connection: Connection, *, exclude: Collection[int] = ()) -> int | None:
    """When a delivery of an enabled endpoint not in ``exclude`` can next be claimed.

    That is the earliest due time of a pending one, or the end of a lease on
    one being delivered (its worker may have died); None when there is none.
    ``exclude`` names the endpoints a worker has no free slot for: what they
    have due must not keep it awake. Each is read at the head of its index
    range, as a claim reads.
    """
    times = [
        int(time)
        for row in connection.execute(NEXT_DUE, {"exclude": list(exclude)})
        for time in row
        if time is not None
    ]
    return min(times, default=None)


def release_claims(connection: Connection, *, worker: str, pks: Sequence[int]) -> None:
    """Give back deliveries a stopping worker did not finish, for a prompt new attempt.

    The attempt is not counted: it may or may not have reached the receiver,
    and the next one carries the same ``webhook-id`` either way.
    """
    if not pks:
        return
    released = connection.execute(
        _deliveries.update()
        .where(
            _deliveries.c.id.in_(list(pks)),
            _deliveries.c.lease_owner == worker,
            _deliveries.c.status == _DELIVERING,
        )
        .values(
            status=_PENDING,
            lease_owner=None,
            lease_until=None,
            attempts=_deliveries.c.attempts - 1,
        )
    )
    if released.rowcount:
        announce_due_deliveries(connection)


def take_back_claims(connection: Connection, *, workers: Collection[str], now: int) -> None:
    """End the leases of dead workers (`kurir.store.leases` finds them), as if run out.

    Their deliveries become claimable at once rather than after the lease,
    and the workers are woken to claim them.
    """
    if not workers:
        return
    taken = connection.execute(
        _deliveries.update()
        .where(
            _deliveries.c.status == _DELIVERING,
            _deliveries.c.lease_owner.in_(list(workers)),
            _deliveries.c.lease_until >= now,
        )
        .values(lease_until=now - 1)
    )
    if taken.rowcount:
        announce_due_deliveries(connection)


_ATTEMPT_COLUMNS = (
    "delivery_id",
    "endpoint_id",
    "attempted_at",
    "status_code",
    "latency_ms",
    "response",
    "error",
)

# The delivery's state after an attempt; the WHERE is checked by `record_attempts`
# beforehand, on rows it holds locked.
_RECORD = (
    _deliveries.update()
    .where(_deliveries.c.id == sa.bindparam("pk"))
    .values(
        status=sa.bindparam("new_status"),
        due_at=sa.func.coalesce(sa.bindparam("due", type_=sa.BigInteger), _deliveries.c.due_at),
        delivered_at=sa.bindparam("delivered", type_=sa.BigInteger),
        last_attempt_at=sa.bindparam("attempted", type_=sa.BigInteger),
        last_status_code=sa.bindparam("code", type_=sa.Integer),
        last_error=sa.bindparam("reason", type_=sa.Text),
        lease_owner=None,
        lease_until=None,
    )
)

_HEALED = (
    _endpoints.update()
    .where(_endpoints.c.id == sa.bindparam("eid"), _endpoints.c.failing_since.is_not(None))
    .values(failing_since=None)
)

_FAILING = (
    _endpoints.update()
    .where(_endpoints.c.id == sa.bindparam("eid"))
    .values(
        failing_since=sa.func.coalesce(
            _endpoints.c.failing_since, sa.bindparam("since", type_=sa.BigInteger)
        )
    )
)


def record_attempts(
    connection: Connection,
    attempts: Sequence[DeliveryAttempt],
    *,
    policy: DeliveryRetryPolicy,
) -> list[RecordedAttempt]:
    """Record attempts, each only if its worker still holds the delivery's lease.

    Delivered ends the delivery; final makes it dead; retry makes it pending
    again at the time ``policy`` gives (never before the receiver's
    Retry-After), or dead when that would be past the delivery's deadline.
    An endpoint's ``failing_since`` is set by its first failure and cleared
    by a success; an endpoint that has failed every delivery for
    ``policy.deadline`` is disabled, and says why.
    """
    if not attempts:
        return []
    held = _held(connection, attempts)
    # By position in the batch: what a worker whose lease was lost reports is not its own.
    recorded: dict[int, tuple[DeliveryAttempt, _Held, RecordedAttempt]] = {}
    for n, attempt in enumerate(attempts):
        delivery = held.get(attempt.delivery_pk)
        if delivery is not None and delivery.owner == attempt.worker:
            recorded[n] = (attempt, delivery, RecordedAttempt(held=True))
    if not recorded:
        return [RecordedAttempt(held=False)] * len(attempts)
    rows: list[dict[str, Any]] = []
    for n, (attempt, delivery, _) in recorded.items():
        status, due, reason = after_attempt(
            attempt.verdict,
            attempts=delivery.attempts,
            event_at=delivery.event_at,
            deadline_at=delivery.deadline_at,
            answered_at=attempt.answered_at,
            error=attempt.error,
            retry_after_seconds=attempt.retry_after_seconds,
            policy=policy,
        )
        recorded[n] = (attempt, delivery, RecordedAttempt(held=True, status=status))
        rows.append(
            {
                "pk": attempt.delivery_pk,
                "new_status": status,
                "due": due,
                "delivered": attempt.answered_at if status == DeliveryStatus.DELIVERED else None,
                "attempted": attempt.attempted_at,
                "code": attempt.status_code,
                "reason": reason,
            }
        )
    connection.execute(_RECORD, rows)
    insert_rows(
        connection,
        webhook_attempts,
        _ATTEMPT_COLUMNS,
        [
            (
                attempt.delivery_pk,
                delivery.endpoint_id,
                attempt.attempted_at,
                attempt.status_code,
                attempt.latency_ms,
                attempt.response,
                attempt.error,
            )
            for attempt, delivery, _ in recorded.values()
        ],
    )
    disabled = _update_endpoints(
        connection,
        [(delivery.endpoint_id, attempt) for attempt, delivery, _ in recorded.values()],
        deadline_ms=round(policy.deadline * 1000),
    )
    results = [RecordedAttempt(held=False)] * len(attempts)
    for n, (_, delivery, done) in recorded.items():
        reason = disabled.get(delivery.endpoint_id)
        results[n] = (
            done if reason is None else msgspec.structs.replace(done, endpoint_disabled=reason)
        )
    return results


class _Held(msgspec.Struct, frozen=True):
    owner: str
    endpoint_id: int
    attempts: int
    event_at: int
    deadline_at: int


_HELD = (
    sa.select(
        _deliveries.c.id,
        _deliveries.c.lease_owner,
        _deliveries.c.endpoint_id,
        _deliveries.c.attempts,
        _deliveries.c.event_at,
        _deliveries.c.deadline_at,
    )
    .where(
        _deliveries.c.id.in_(sa.bindparam("pks", expanding=True)),
        _deliveries.c.status == _DELIVERING,
    )
    .order_by(_deliveries.c.id)
)
_HELD_LOCKED = _HELD.with_for_update(key_share=True)


def _held(connection: Connection, attempts: Sequence[DeliveryAttempt]) -> dict[int, _Held]:
    """The attempts' deliveries that are under a lease, and whose; locked until the commit.

    Locked, so that a claim by another worker (which skips locked rows) cannot
    slip in between this check and the update.
    """
    query = _HELD_LOCKED if connection.dialect.name == "postgresql" else _HELD
    found = connection.execute(query, {"pks": sorted({a.delivery_pk for a in attempts})})
    return {
        row.id: _Held(row.lease_owner, row.endpoint_id, row.attempts, row.event_at, row.deadline_at)
        for row in found
    }


def _update_endpoints(
    connection: Connection,
    attempts: Sequence[tuple[int, DeliveryAttempt]],
    *,
    deadline_ms: int,
) -> dict[int, str]:
    """Keep each endpoint's ``failing_since``; disable those failing for the whole deadline.

    Returns the reasons of the endpoints disabled. The attempts are taken in
    the order they were made, so only failures after an endpoint's last
    success count.
    """
    healed: set[int] = set()
    failing: dict[int, tuple[int, DeliveryAttempt]] = {}  # first failure since, last failure
    for endpoint_id, attempt in sorted(attempts, key=lambda pair: pair[1].attempted_at):
        if attempt.verdict == Verdict.DELIVERED:
            healed.add(endpoint_id)
            failing.pop(endpoint_id, None)
        else:
            since = failing.get(endpoint_id, (attempt.attempted_at, attempt))[0]
            failing[endpoint_id] = (since, attempt)
    if healed:
        connection.execute(_HEALED, [{"eid": endpoint_id} for endpoint_id in sorted(healed)])
    if not failing:
        return {}
    connection.execute(
        _FAILING,
        [
            {"eid": endpoint_id, "since": since}
            for endpoint_id, (since, _) in sorted(failing.items())
        ],
    )
    candidates = connection.execute(
        sa.select(_endpoints.c.id, _endpoints.c.failing_since).where(
            _endpoints.c.id.in_(sorted(failing)),
            _endpoints.c.enabled.is_(True),
            _endpoints.c.failing_since.is_not(None),
        )
    )
    reasons: dict[int, str] = {}
    for row in candidates:
        last = failing[row.id][1]
        if row.failing_since <= last.answered_at - deadline_ms:
            reasons[row.id] = disabled_reason(
                deadline_ms=deadline_ms, failing_since=row.failing_since, last_error=last.error
            )
    for endpoint_id, reason in reasons.items():
        connection.execute(
            _endpoints.update()
            .where(_endpoints.c.id == endpoint_id)
            .values(
                enabled=False,
                disabled_reason=reason,
                updated_at=failing[endpoint_id][1].answered_at,
            )
        )
    return reasons


# -- the owner's side: redelivery by hand --------------------------------------


def redeliver_one(
    connection: Connection,
    endpoint_public_id: str,
    delivery_public_id: str,
    *,
    account_id: int,
    now: int,
    deadline_ms: int | None = None,
) -> int | RedeliveryRefused | None:
    """Send one delivery again, whatever became of it, unless a worker has it now.

    1 when done; None if the endpoint or the delivery is not the account's.
    See `_redelivered` for what a redelivery resets.
    """
    endpoint = endpoint_of(connection, endpoint_public_id, account_id)
    if endpoint is None:
        return None
    found = connection.execute(
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.status).where(
            webhook_deliveries.c.public_id == delivery_public_id,
            webhook_deliveries.c.endpoint_id == endpoint.id,
        )
    ).first()
    if found is None:
        return None
    if not endpoint.enabled:
        return _disabled(endpoint_public_id)
    done = connection.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.id == found.id,
            # A worker's claim may have come since the read above.
            webhook_deliveries.c.status != DeliveryStatus.DELIVERING,
        )
        .values(**_redelivered(now, deadline_ms or deadline_ms_of(connection)))
    )
    if done.rowcount == 0:
        return RedeliveryRefused(
            f"delivery {delivery_public_id} is being delivered now; redeliver it once that is done"
        )
    announce_due_deliveries(connection)
    return 1


def redeliver_dead_since(
    connection: Connection,
    endpoint_public_id: str,
    *,
    account_id: int,
    since: int,
    now: int,
    deadline_ms: int | None = None,
) -> int | RedeliveryRefused | None:
    """Send again every dead delivery of the endpoint whose event is at or after ``since``.

    How many; None if the account has no such endpoint.
    """
    endpoint = endpoint_of(connection, endpoint_public_id, account_id)
    if endpoint is None:
        return None
    if not endpoint.enabled:
        return _disabled(endpoint_public_id)
    done = connection.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.endpoint_id == endpoint.id,
            webhook_deliveries.c.status == DeliveryStatus.DEAD,
            webhook_deliveries.c.event_at >= since,
        )
        .values(**_redelivered(now, deadline_ms or deadline_ms_of(connection)))
    )
    if done.rowcount:
        announce_due_deliveries(connection)
    return int(done.rowcount)


def _redelivered(now: int, deadline_ms: int) -> dict[str, Any]:
    """A delivery sent again: due now, as if new, with a whole deadline from now.

    The deadline counts from the redelivery, not from the event, which is
    usually past its own deadline already (that is why it is dead): a
    receiver fixed after an outage gets the same patience as for a new event.
    The attempts made so far stay in the log; the count starts again, as the
    backoff does. The ``webhook-id`` stays the delivery's, so a receiver
    that did process it can tell.
    """
    return {
        "status": DeliveryStatus.PENDING,
        "due_at": now,
        "deadline_at": now + deadline_ms,
        "attempts": 0,
        "lease_owner": None,
        "lease_until": None,
        "delivered_at": None,
    }


def _disabled(endpoint_public_id: str) -> RedeliveryRefused:
    return RedeliveryRefused(
        f"webhook {endpoint_public_id} is disabled; enable it before redelivering"
    )


def endpoint_of(connection: Connection, public_id: str, account_id: int) -> Any:
    return connection.execute(
        sa.select(webhook_endpoints.c.id, webhook_endpoints.c.enabled).where(
            webhook_endpoints.c.public_id == public_id,
            webhook_endpoints.c.account_id == account_id,
        )
    ).first()


def endpoint_id_of(connection: Connection, public_id: str, account_id: int) -> int | None:
    found = endpoint_of(connection, public_id, account_id)
    return None if found is None else int(found.id)
