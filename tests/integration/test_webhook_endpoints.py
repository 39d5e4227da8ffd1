"""Webhook endpoints in the store: their life, their secret, their devices, per account."""

import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.errors import ValidationError
from kurir.domain.events import EVENTS, DeliveryStatus
from kurir.store import Store, accounts
from kurir.store import webhook_endpoints as endpoints
from kurir.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from kurir.store.webhook_records import EndpointChanges, EndpointView, EndpointWithSecret
from kurir.webhooks.signing import ROTATION_OVERLAP_MS, secret_key
from tests.support.store_data import T0
from tests.support.webhook_rows import Attempt, add_delivery, count_rows

URL = "https://receiver.example.com/kurir"


async def _account(store: Store, devices: int = 2) -> tuple[int, list[str]]:
    """An account with ``devices`` devices: its id and their public ids."""

    def add(connection: Connection) -> tuple[int, list[str]]:
        account = accounts.create_account(connection, name=f"a-{secrets.token_hex(4)}", now=T0)
        public_ids = [f"dev-{secrets.token_hex(4)}" for _ in range(devices)]
        for public_id in public_ids:
            accounts.add_device(
                connection,
                public_id=public_id,
                account_id=account.id,
                phone="628122222222",
                transport="sandbox",
                created_at=T0,
            )
        return account.id, public_ids

    return await store.database.write(add)


async def _create(
    store: Store, account_id: int, *, devices: list[str] | None = None, **extra: int
) -> EndpointWithSecret:
    return await store.write(
        endpoints.create_endpoint,
        account_id=account_id,
        url=URL,
        events=["message.status", "message.reply"],
        devices=devices,
        now=T0,
        **extra,
    )


async def test_an_endpoint_is_created_with_a_secret_shown_once(store: Store) -> None:
    account_id, device_ids = await _account(store)
    created = await _create(store, account_id, devices=[device_ids[1]])
    assert created.secret.startswith("whsec_")
    assert len(secret_key(created.secret)) == 24
    view = created.endpoint
    assert view.public_id.startswith("wh_")
    assert (view.url, view.events, view.devices) == (
        URL,
        ("message.status", "message.reply"),
        (device_ids[1],),
    )
    assert (view.enabled, view.disabled_reason, view.failing_since) == (True, None, None)
    assert view.secret_hint == created.secret[:10] + "…"
    assert (view.previous_secret_until, view.pending, view.dead) == (None, 0, 0)
    assert view.created_at == view.updated_at == T0
    # Read again, it is the same, and nothing in it is the secret.
    read = await store.read(endpoints.get_endpoint, view.public_id, account_id=account_id, now=T0)
    assert read == view
    assert created.secret not in repr(read)
    listed = await store.read(endpoints.list_endpoints, account_id=account_id, now=T0)
    assert listed == [view]
    stored = await store.read(
        lambda connection: connection.execute(
            sa.select(webhook_endpoints.c.devices, webhook_endpoints.c.secret)
        ).one()
    )
    assert (stored.devices, stored.secret) == (f'["{device_ids[1]}"]', created.secret)


async def test_all_devices_is_stored_as_null(store: Store) -> None:
    account_id, _ = await _account(store)
    created = await _create(store, account_id)
    assert created.endpoint.devices is None
    stored = await store.read(
        lambda connection: connection.execute(sa.select(webhook_endpoints.c.devices)).scalar()
    )
    assert stored is None


async def test_another_accounts_endpoint_is_as_missing_as_one_that_never_was(
    store: Store,
) -> None:
    owner, _ = await _account(store)
    other, _ = await _account(store)
    created = await _create(store, owner)
    public_id = created.endpoint.public_id
    for account_id, name in ((other, public_id), (owner, "wh_missing")):
        assert await store.read(endpoints.get_endpoint, name, account_id=account_id, now=T0) is None
        assert (
            await store.write(
                endpoints.update_endpoint,
                name,
                account_id=account_id,
                changes=EndpointChanges(enabled=False),
                now=T0,
            )
            is None
        )
        rotated = await store.write(endpoints.rotate_secret, name, account_id=account_id, now=T0)
        assert rotated is None
        assert not await store.write(endpoints.delete_endpoint, name, account_id=account_id)
    assert await store.read(endpoints.list_endpoints, account_id=other, now=T0) == []
    # Untouched by any of it.
    mine = await store.read(endpoints.get_endpoint, public_id, account_id=owner, now=T0)
    assert mine == created.endpoint


async def test_the_cap_on_endpoints_is_per_account_and_stores_nothing_past_it(
    store: Store,
) -> None:
    account_id, _ = await _account(store)
    other, _ = await _account(store)
    for _ in range(2):
        await _create(store, account_id, limit=2)
    with pytest.raises(endpoints.EndpointLimitReached) as caught:
        await _create(store, account_id, limit=2)
    assert str(caught.value) == "an account may have at most 2 webhook endpoints"
    assert len(await store.read(endpoints.list_endpoints, account_id=account_id, now=T0)) == 2
    await _create(store, other, limit=2)  # another account's count is its own


@pytest.mark.parametrize("whose", ["unknown", "another account's", "removed"])
async def test_a_device_not_the_accounts_is_refused_naming_it(store: Store, whose: str) -> None:
    account_id, device_ids = await _account(store)
    _, other_devices = await _account(store)
    if whose == "removed":
        await store.write(
            accounts.remove_device, account_id=account_id, public_id=device_ids[1], now=T0
        )
    named = {
        "unknown": "dev-unknown",
        "another account's": other_devices[0],
        "removed": device_ids[1],
    }[whose]
    with pytest.raises(ValidationError) as caught:
        await _create(store, account_id, devices=[device_ids[0], named])
    assert caught.value.message == f"devices[1]: device {named!r} not found"
    assert await store.read(endpoints.list_endpoints, account_id=account_id, now=T0) == []
    # Updating to it is refused the same way, and changes nothing.
    created = await _create(store, account_id, devices=[device_ids[0]])
    with pytest.raises(ValidationError):
        await store.write(
            endpoints.update_endpoint,
            created.endpoint.public_id,
            account_id=account_id,
            changes=EndpointChanges(url="https://new.example.com/", devices=(named,)),
            now=T0 + 1,
        )
    unchanged = await store.read(
        endpoints.get_endpoint, created.endpoint.public_id, account_id=account_id, now=T0
    )
    assert unchanged == created.endpoint


async def _set_failing(store: Store, public_id: str, *, reason: str | None) -> None:
    """What the workers record of a failing endpoint, and of one they gave up on."""
    values = {"failing_since": T0 - 5000, "disabled_reason": reason, "enabled": reason is None}
    statement = (
        webhook_endpoints.update().where(webhook_endpoints.c.public_id == public_id).values(values)
    )
    await store.database.write(lambda connection: connection.execute(statement))


async def test_an_update_changes_only_what_it_names(store: Store) -> None:
    account_id, device_ids = await _account(store)
    created = await _create(store, account_id, devices=device_ids)
    public_id = created.endpoint.public_id

    async def update(changes: EndpointChanges, at: int) -> EndpointView:
        view = await store.write(
            endpoints.update_endpoint, public_id, account_id=account_id, changes=changes, now=at
        )
        assert view is not None
        return view

    view = await update(EndpointChanges(events=tuple(EVENTS)), T0 + 1)
    assert (view.events, view.devices, view.url) == (tuple(EVENTS), tuple(device_ids), URL)
    assert view.updated_at == T0 + 1
    view = await update(EndpointChanges(devices=None), T0 + 2)
    assert view.devices is None
    view = await update(EndpointChanges(devices=(device_ids[0],)), T0 + 3)
    assert view.devices == (device_ids[0],)
    # A new URL is a new receiver: the old one's failures are forgotten.
    await _set_failing(store, public_id, reason=None)
    view = await update(EndpointChanges(url="https://new.example.com/hook"), T0 + 4)
    assert (view.url, view.failing_since, view.enabled) == (
        "https://new.example.com/hook",
        None,
        True,
    )
    assert view.secret_hint == created.endpoint.secret_hint


async def test_pausing_and_resuming_and_enabling_what_kurir_disabled(store: Store) -> None:
    account_id, _ = await _account(store)
    public_id = (await _create(store, account_id)).endpoint.public_id

    async def enable(enabled: bool) -> EndpointView:
        view = await store.write(
            endpoints.update_endpoint,
            public_id,
            account_id=account_id,
            changes=EndpointChanges(enabled=enabled),
            now=T0 + 1,
        )
        assert view is not None
        return view

    paused = await enable(False)
    assert (paused.enabled, paused.disabled_reason) == (False, None)
    assert (await enable(True)).enabled
    reason = "every delivery failed for 24 hours"
    await _set_failing(store, public_id, reason=reason)
    # Pausing one Kurir disabled keeps the reason; enabling it forgets reason and failures.
    paused = await enable(False)
    assert (paused.enabled, paused.disabled_reason, paused.failing_since) == (
        False,
        reason,
        T0 - 5000,
    )
    enabled = await enable(True)
    assert (enabled.enabled, enabled.disabled_reason, enabled.failing_since) == (True, None, None)


async def test_rotation_keeps_the_replaced_secret_signing_for_the_overlap(store: Store) -> None:
    account_id, _ = await _account(store)
    created = await _create(store, account_id)
    public_id = created.endpoint.public_id
    rotated = await store.write(
        endpoints.rotate_secret, public_id, account_id=account_id, now=T0 + 10
    )
    assert rotated is not None
    assert rotated.secret != created.secret
    assert rotated.secret.startswith("whsec_")
    assert rotated.endpoint.secret_hint == rotated.secret[:10] + "…"
    assert rotated.endpoint.previous_secret_until == T0 + 10 + ROTATION_OVERLAP_MS

    def secrets_of(connection: Connection) -> tuple[str, str | None, int | None]:
        row = connection.execute(
            sa.select(
                webhook_endpoints.c.secret,
                webhook_endpoints.c.previous_secret,
                webhook_endpoints.c.previous_secret_until,
            )
        ).one()
        return row.secret, row.previous_secret, row.previous_secret_until

    stored = await store.read(secrets_of)
    assert stored == (rotated.secret, created.secret, T0 + 10 + ROTATION_OVERLAP_MS)
    # Once the overlap is over, the view no longer mentions a previous secret.
    later = T0 + 10 + ROTATION_OVERLAP_MS
    view = await store.read(endpoints.get_endpoint, public_id, account_id=account_id, now=later)
    assert view is not None
    assert view.previous_secret_until is None
    # A second rotation keeps the one it replaces; the first secret signs no more.
    again = await store.write(
        endpoints.rotate_secret, public_id, account_id=account_id, now=T0 + 20
    )
    assert again is not None
    assert await store.read(secrets_of) == (
        again.secret,
        rotated.secret,
        T0 + 20 + ROTATION_OVERLAP_MS,
    )


async def test_deleting_an_endpoint_takes_its_deliveries_and_attempts_only(store: Store) -> None:
    account_id, device_ids = await _account(store)
    doomed = (await _create(store, account_id)).endpoint.public_id
    kept = (await _create(store, account_id)).endpoint.public_id

    def deliveries(connection: Connection) -> None:
        for public_id in (doomed, kept):
            for status in (DeliveryStatus.DEAD, DeliveryStatus.PENDING):
                add_delivery(
                    connection,
                    endpoint_public_id=public_id,
                    device_public_id=device_ids[0],
                    event_at=T0,
                    status=status,
                    attempts=(Attempt(T0 + 1, 500), Attempt(T0 + 2, None, error="timed out")),
                )

    await store.database.write(deliveries)
    view = await store.read(endpoints.get_endpoint, doomed, account_id=account_id, now=T0)
    assert view is not None
    assert (view.pending, view.dead) == (1, 1)
    assert await store.write(endpoints.delete_endpoint, doomed, account_id=account_id)
    assert await store.read(endpoints.get_endpoint, doomed, account_id=account_id, now=T0) is None

    def counts(connection: Connection) -> tuple[int, ...]:
        return tuple(
            count_rows(connection, table)
            for table in (webhook_endpoints, webhook_deliveries, webhook_attempts, events)
        )

    # The other endpoint's two deliveries and four attempts stay; so do all four events.
    assert await store.read(counts) == (1, 2, 4, 4)
    assert not await store.write(endpoints.delete_endpoint, doomed, account_id=account_id)
