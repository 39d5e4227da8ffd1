"""Webhook endpoints: what an account registers to hear of events, and every change to it.

This module owns the endpoint's configuration (URL, events, devices, whether
it is enabled, its secret); the delivery workers record how its deliveries
fare (``failing_since``, and ``disabled_reason`` when they give up on it).
Every function is scoped to an account: another account's endpoint id is
answered exactly as one that does not exist.

A new secret is shown once, by `create_endpoint` and `rotate_secret`; every
other answer carries a hint of it. A rotation keeps the secret it replaces
signing beside the new one for `ROTATION_OVERLAP_MS`, so a receiver can switch
without refusing a delivery; a second rotation within that time drops the
oldest of the three at once, as a leaked secret should be.
"""

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.endpoints import MAX_ENDPOINTS, secret_hint, unknown_device
from kurir.domain.events import DeliveryStatus, new_endpoint_id
from kurir.store.deliveries import announce_due_deliveries
from kurir.store.tables import (
    accounts,
    devices,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from kurir.store.webhook_records import EndpointChanges, EndpointView, EndpointWithSecret
from kurir.webhooks.signing import ROTATION_OVERLAP_MS, new_secret

_LIST = msgspec.json.Decoder(list[str])
_WAITING = (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING)

_COLUMNS = (
    webhook_endpoints.c.id,
    webhook_endpoints.c.public_id,
    webhook_endpoints.c.url,
    webhook_endpoints.c.events,
    webhook_endpoints.c.devices,
    webhook_endpoints.c.secret,
    webhook_endpoints.c.previous_secret_until,
    webhook_endpoints.c.enabled,
    webhook_endpoints.c.disabled_reason,
    webhook_endpoints.c.failing_since,
    webhook_endpoints.c.created_at,
    webhook_endpoints.c.updated_at,
)


class EndpointLimitReached(Exception):
    """The account has as many endpoints as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an account may have at most {limit} webhook endpoints")
        self.limit = limit


def create_endpoint(
    connection: Connection,
    *,
    account_id: int,
    url: str,
    events: Sequence[str],
    devices: Sequence[str] | None,
    now: int,
    limit: int = MAX_ENDPOINTS,
) -> EndpointWithSecret:
    """A new endpoint with a new secret; `EndpointLimitReached` past ``limit``.

    ``url`` and ``events`` are checked by the caller (`kurir.domain.endpoints`,
    `kurir.egress.check_url`); the devices are checked here to be the account's.
    """
    # The account's row, locked, so that two creations at once cannot both pass
    # the cap (PostgreSQL; SQLite has one writer and no FOR UPDATE).
    connection.execute(
        sa.select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
    )
    count = connection.execute(
        sa.select(sa.func.count())
        .select_from(webhook_endpoints)
        .where(webhook_endpoints.c.account_id == account_id)
    ).scalar_one()
    if count >= limit:
        raise EndpointLimitReached(limit)
    _check_devices(connection, account_id, devices)
    secret = new_secret()
    row = connection.execute(
        webhook_endpoints.insert()
        .values(
            public_id=new_endpoint_id(),
            account_id=account_id,
            url=url,
            events=_json(events),
            devices=None if devices is None else _json(devices),
            secret=secret,
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        .returning(*_COLUMNS)
    ).one()
    return EndpointWithSecret(_view(row, {}, now), secret)


def list_endpoints(connection: Connection, *, account_id: int, now: int) -> list[EndpointView]:
    """The account's endpoints, oldest first."""
    rows = connection.execute(
        sa.select(*_COLUMNS)
        .where(webhook_endpoints.c.account_id == account_id)
        .order_by(webhook_endpoints.c.id)
    ).all()
    counts = _counts(connection, [row.id for row in rows])
    return [_view(row, counts, now) for row in rows]


def get_endpoint(
    connection: Connection, public_id: str, *, account_id: int, now: int
) -> EndpointView | None:
    row = connection.execute(
        sa.select(*_COLUMNS).where(
            webhook_endpoints.c.public_id == public_id,
            webhook_endpoints.c.account_id == account_id,
        )
    ).first()
    if row is None:
        return None
    return _view(row, _counts(connection, [row.id]), now)


def update_endpoint(
    connection: Connection,
    public_id: str,
    *,
    account_id: int,
    changes: EndpointChanges,
    now: int,
) -> EndpointView | None:
    """Apply ``changes``; None if the account has no such endpoint.

    Enabling an endpoint Kurir disabled forgets why and since when it was
    failing: its owner says the receiver is fixed, and it gets a whole
    deadline again before it can be disabled anew. So does a new URL, which
    is a new receiver. Pausing (``enabled=False``) keeps any reason Kurir gave.
    """
    row = _locked(connection, public_id, account_id)
    if row is None:
        return None
    values: dict[str, Any] = {"updated_at": now}
    if changes.url is not msgspec.UNSET:
        values.update(url=changes.url, failing_since=None)
    if changes.events is not msgspec.UNSET:
        values["events"] = _json(changes.events)
    if changes.devices is not msgspec.UNSET:
        _check_devices(connection, account_id, changes.devices)
        values["devices"] = None if changes.devices is None else _json(changes.devices)
    if changes.enabled is True and not row.enabled:
        values.update(enabled=True, disabled_reason=None, failing_since=None)
        # Its waiting deliveries are due again: the workers skipped them while it was off.
        announce_due_deliveries(connection)
    elif changes.enabled is False:
        values["enabled"] = False
    connection.execute(
        webhook_endpoints.update().where(webhook_endpoints.c.id == row.id).values(**values)
    )
    return get_endpoint(connection, public_id, account_id=account_id, now=now)


def rotate_secret(
    connection: Connection, public_id: str, *, account_id: int, now: int
) -> EndpointWithSecret | None:
    """A new secret; the one it replaces signs beside it until now + `ROTATION_OVERLAP_MS`."""
    row = _locked(connection, public_id, account_id)
    if row is None:
        return None
    secret = new_secret()
    connection.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == row.id)
        .values(
            secret=secret,
            previous_secret=row.secret,
            previous_secret_until=now + ROTATION_OVERLAP_MS,
            updated_at=now,
        )
    )
    endpoint = get_endpoint(connection, public_id, account_id=account_id, now=now)
    assert endpoint is not None  # locked above, in this transaction
    return EndpointWithSecret(endpoint, secret)


def delete_endpoint(connection: Connection, public_id: str, *, account_id: int) -> bool:
    """Delete the endpoint with its deliveries and their attempts; False if there is none.

    The events stay: another endpoint may be delivering them, and telling
    which are no one's needs a look through every delivery (``event_id`` has
    no index); rows of events are the business of a retention sweep.
    The endpoint's row is locked first: a writer adding a delivery for it
    (a foreign key check locks the row too) either commits before, and its
    delivery is deleted here, or waits and finds the endpoint gone.
    """
    row = _locked(connection, public_id, account_id)
    if row is None:
        return False
    for table in (webhook_attempts, webhook_deliveries):
        connection.execute(table.delete().where(table.c.endpoint_id == row.id))
    connection.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == row.id))
    return True


def _locked(connection: Connection, public_id: str, account_id: int) -> Any:
    """The endpoint's row, locked (PostgreSQL) till the transaction ends; None if not theirs."""
    return connection.execute(
        sa.select(webhook_endpoints.c.id, webhook_endpoints.c.enabled, webhook_endpoints.c.secret)
        .where(
            webhook_endpoints.c.public_id == public_id,
            webhook_endpoints.c.account_id == account_id,
        )
        .with_for_update()
    ).first()


def _check_devices(
    connection: Connection, account_id: int, public_ids: Sequence[str] | None
) -> None:
    """Every device named is the account's and in service; else a ValidationError naming it."""
    if public_ids is None:
        return
    found = set(
        connection.execute(
            sa.select(devices.c.public_id).where(
                devices.c.public_id.in_(list(public_ids)),
                devices.c.account_id == account_id,
                devices.c.removed_at.is_(None),
            )
        ).scalars()
    )
    for index, public_id in enumerate(public_ids):
        if public_id not in found:
            raise unknown_device(index, public_id)


def _counts(connection: Connection, endpoint_ids: list[int]) -> dict[tuple[int, str], int]:
    """Waiting and dead deliveries per endpoint and status.

    Read from the queue's index (status, endpoint, …); delivered ones, the
    bulk of a log, are not counted.
    """
    if not endpoint_ids:
        return {}
    rows = connection.execute(
        sa.select(webhook_deliveries.c.endpoint_id, webhook_deliveries.c.status, sa.func.count())
        .where(
            webhook_deliveries.c.status.in_([*_WAITING, DeliveryStatus.DEAD]),
            webhook_deliveries.c.endpoint_id.in_(endpoint_ids),
        )
        .group_by(webhook_deliveries.c.endpoint_id, webhook_deliveries.c.status)
    )
    return {(endpoint_id, status): count for endpoint_id, status, count in rows}


def _view(row: Any, counts: dict[tuple[int, str], int], now: int) -> EndpointView:
    previous_until = row.previous_secret_until
    return EndpointView(
        public_id=row.public_id,
        url=row.url,
        events=tuple(_LIST.decode(row.events)),
        devices=None if row.devices is None else tuple(_LIST.decode(row.devices)),
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        secret_hint=secret_hint(row.secret),
        previous_secret_until=previous_until if previous_until and previous_until > now else None,
        pending=sum(counts.get((row.id, status), 0) for status in _WAITING),
        dead=counts.get((row.id, DeliveryStatus.DEAD), 0),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _json(values: Sequence[str]) -> str:
    return msgspec.json.encode(list(values)).decode()
