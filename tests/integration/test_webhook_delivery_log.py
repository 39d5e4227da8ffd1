"""An endpoint's delivery log and redelivery by hand, over rows as the workers leave them."""

import secrets

import pytest
from sqlalchemy import Connection

from kurir.domain.events import DeliveryStatus
from kurir.store import Store, accounts, deliveries, delivery_log
from kurir.store import webhook_endpoints as endpoints
from kurir.store.deliveries import DEFAULT_DEADLINE_MS
from kurir.store.webhook_records import AttemptView, EndpointChanges, RedeliveryRefused
from tests.support.store_data import T0
from tests.support.webhook_rows import Attempt, add_delivery, delivery_row

NOW = T0 + 3 * DEFAULT_DEADLINE_MS
DEAD, DELIVERED, PENDING = DeliveryStatus.DEAD, DeliveryStatus.DELIVERED, DeliveryStatus.PENDING


class Setup:
    """An account with an endpoint and a device, and a second account with the same."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.account_id = 0
        self.device = ""
        self.endpoint = ""
        self.other_account_id = 0
        self.other_endpoint = ""

    async def make(self) -> "Setup":
        self.account_id, self.device, self.endpoint = await self._account()
        self.other_account_id, _, self.other_endpoint = await self._account()
        return self

    async def _account(self) -> tuple[int, str, str]:
        def add(connection: Connection) -> tuple[int, str]:
            account = accounts.create_account(connection, name=f"a-{secrets.token_hex(4)}", now=T0)
            device = accounts.add_device(
                connection,
                public_id=f"dev-{secrets.token_hex(4)}",
                account_id=account.id,
                phone="628122222222",
                transport="sandbox",
                created_at=T0,
            )
            return account.id, device.public_id

        account_id, device = await self.store.database.write(add)
        created = await self.store.write(
            endpoints.create_endpoint,
            account_id=account_id,
            url="https://receiver.example.com/",
            events=["message.status"],
            devices=None,
            now=T0,
        )
        return account_id, device, created.endpoint.public_id

    async def deliveries(
        self, *specs: tuple[int, DeliveryStatus, tuple[Attempt, ...]], endpoint: str = ""
    ) -> list[str]:
        """Deliveries of (event time, status, attempts) to ``endpoint`` (the first one's)."""

        def add(connection: Connection) -> list[str]:
            return [
                add_delivery(
                    connection,
                    endpoint_public_id=endpoint or self.endpoint,
                    device_public_id=self.device,
                    event_at=event_at,
                    status=status,
                    attempts=attempts,
                )
                for event_at, status, attempts in specs
            ]

        return await self.store.database.write(add)


@pytest.fixture
async def setup(store: Store) -> Setup:
    return await Setup(store).make()


FAILED_TWICE = (
    Attempt(T0 + 100, 503, latency_ms=40, response="busy"),
    Attempt(T0 + 5100, None, latency_ms=10_000, error="no answer within 10 s"),
)


async def test_the_log_is_newest_first_with_every_attempt_and_the_event(setup: Setup) -> None:
    store = setup.store
    old, new = await setup.deliveries(
        (T0, DEAD, FAILED_TWICE), (T0 + 60_000, DELIVERED, (Attempt(T0 + 60_050, 200),))
    )
    found = await store.read(
        delivery_log.delivery_log, setup.endpoint, account_id=setup.account_id, limit=10
    )
    assert found is not None
    assert [d.public_id for d in found] == [new, old]
    newest, oldest = found
    assert (newest.status, newest.delivered_at, newest.event_type) == (
        DELIVERED,
        T0 + 60_050,
        "message.status",
    )
    assert oldest.attempts == (
        AttemptView(
            attempted_at=T0 + 100, status_code=503, latency_ms=40, error=None, response="busy"
        ),
        AttemptView(
            attempted_at=T0 + 5100,
            status_code=None,
            latency_ms=10_000,
            error="no answer within 10 s",
            response="",
        ),
    )
    assert oldest.body == (
        f'{{"event":"message.status","device":"{setup.device}","data":{{"created":{T0 // 1000}}}}}'
    )
    assert (oldest.event_at, oldest.deadline_at) == (T0, T0 + DEFAULT_DEADLINE_MS)
    one = await store.read(
        delivery_log.get_delivery, setup.endpoint, old, account_id=setup.account_id
    )
    assert one == oldest


async def test_the_log_pages_by_cursor_and_filters_by_status(setup: Setup) -> None:
    store = setup.store
    # Two at the same event time: the row breaks the tie, on both sides of a page.
    made = await setup.deliveries(
        (T0, DEAD, ()),
        (T0 + 1, DELIVERED, ()),
        (T0 + 1, DEAD, ()),
        (T0 + 2, PENDING, ()),
        (T0 + 3, DEAD, ()),
    )
    newest_first = made[::-1]
    pages: list[list[str]] = []
    before = None
    while True:
        page = await store.read(
            delivery_log.delivery_log,
            setup.endpoint,
            account_id=setup.account_id,
            limit=2,
            before=before,
        )
        assert page is not None
        pages.append([d.public_id for d in page])
        if len(page) < 2:
            break
        before = delivery_log.LogCursor(page[-1].event_at, page[-1].id)
        assert delivery_log.LogCursor.parse(str(before)) == before
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    dead = await store.read(
        delivery_log.delivery_log,
        setup.endpoint,
        account_id=setup.account_id,
        limit=10,
        status=DEAD,
    )
    assert dead is not None
    assert [d.public_id for d in dead] == [made[4], made[2], made[0]]


@pytest.mark.parametrize(
    "text", ["", "-", "1", "1-", "-1", "a-1", "1-2-3", "1-" + "9" * 30, "\uff11-2"]
)
def test_a_cursor_not_written_by_the_log_is_none(text: str) -> None:
    assert delivery_log.LogCursor.parse(text) is None


async def test_another_accounts_log_and_deliveries_are_not_found(setup: Setup) -> None:
    store = setup.store
    (mine,) = await setup.deliveries((T0, DEAD, ()))
    (theirs,) = await setup.deliveries((T0, DEAD, ()), endpoint=setup.other_endpoint)
    other = setup.other_account_id
    assert (
        await store.read(delivery_log.delivery_log, setup.endpoint, account_id=other, limit=5)
        is None
    )
    assert (
        await store.read(delivery_log.get_delivery, setup.endpoint, mine, account_id=other) is None
    )
    # A delivery is found only under its own endpoint.
    assert (
        await store.read(
            delivery_log.get_delivery, setup.endpoint, theirs, account_id=setup.account_id
        )
        is None
    )
    assert (
        await store.read(delivery_log.get_delivery, setup.other_endpoint, mine, account_id=other)
        is None
    )
    assert (
        await store.write(deliveries.redeliver_one, setup.endpoint, mine, account_id=other, now=NOW)
        is None
    )
    assert (
        await store.write(
            deliveries.redeliver_dead_since, setup.endpoint, account_id=other, since=0, now=NOW
        )
        is None
    )
    assert (await store.read(delivery_row, mine)).status == DEAD


@pytest.mark.parametrize("status", [DEAD, DELIVERED, PENDING])
async def test_one_delivery_is_sent_again_from_now_with_its_log_kept(
    setup: Setup, status: DeliveryStatus
) -> None:
    store = setup.store
    (public_id,) = await setup.deliveries((T0, status, FAILED_TWICE))
    done = await store.write(
        deliveries.redeliver_one, setup.endpoint, public_id, account_id=setup.account_id, now=NOW
    )
    assert done == 1
    row = await store.read(delivery_row, public_id)
    assert (row.status, row.due_at, row.attempts, row.deadline_at) == (
        PENDING,
        NOW,
        0,
        NOW + DEFAULT_DEADLINE_MS,
    )
    assert (row.lease_owner, row.lease_until, row.delivered_at, row.event_at) == (
        None,
        None,
        None,
        T0,
    )
    view = await store.read(
        delivery_log.get_delivery, setup.endpoint, public_id, account_id=setup.account_id
    )
    assert view is not None
    assert len(view.attempts) == 2


async def test_a_delivery_a_worker_holds_is_not_redelivered(setup: Setup) -> None:
    store = setup.store
    (public_id,) = await setup.deliveries((T0, DeliveryStatus.DELIVERING, ()))
    refused = await store.write(
        deliveries.redeliver_one, setup.endpoint, public_id, account_id=setup.account_id, now=NOW
    )
    assert refused == RedeliveryRefused(
        f"delivery {public_id} is being delivered now; redeliver it once that is done"
    )
    assert (await store.read(delivery_row, public_id)).status == DeliveryStatus.DELIVERING


async def test_a_disabled_endpoint_is_not_redelivered_to(setup: Setup) -> None:
    store = setup.store
    (public_id,) = await setup.deliveries((T0, DEAD, ()))
    await store.write(
        endpoints.update_endpoint,
        setup.endpoint,
        account_id=setup.account_id,
        changes=EndpointChanges(enabled=False),
        now=T0,
    )
    refused = RedeliveryRefused(
        f"webhook {setup.endpoint} is disabled; enable it before redelivering"
    )
    assert (
        await store.write(
            deliveries.redeliver_one,
            setup.endpoint,
            public_id,
            account_id=setup.account_id,
            now=NOW,
        )
        == refused
    )
    assert (
        await store.write(
            deliveries.redeliver_dead_since,
            setup.endpoint,
            account_id=setup.account_id,
            since=0,
            now=NOW,
        )
        == refused
    )
    assert (await store.read(delivery_row, public_id)).status == DEAD


async def test_the_dead_since_a_time_are_sent_again_and_nothing_else(setup: Setup) -> None:
    store = setup.store
    before, at, after, delivered, pending = await setup.deliveries(
        (T0 - 1, DEAD, ()),
        (T0, DEAD, FAILED_TWICE),
        (T0 + 1, DEAD, ()),
        (T0 + 2, DELIVERED, ()),
        (T0 + 3, PENDING, ()),
    )
    (elsewhere,) = await setup.deliveries((T0 + 1, DEAD, ()), endpoint=setup.other_endpoint)
    done = await store.write(
        deliveries.redeliver_dead_since,
        setup.endpoint,
        account_id=setup.account_id,
        since=T0,
        now=NOW,
    )
    assert done == 2
    statuses = [
        (await store.read(delivery_row, public_id)).status
        for public_id in (before, at, after, delivered, pending, elsewhere)
    ]
    assert statuses == [DEAD, PENDING, PENDING, DELIVERED, PENDING, DEAD]
    row = await store.read(delivery_row, at)
    assert (row.due_at, row.attempts, row.deadline_at) == (NOW, 0, NOW + DEFAULT_DEADLINE_MS)
    # Again: nothing is dead since then any more.
    again = await store.write(
        deliveries.redeliver_dead_since,
        setup.endpoint,
        account_id=setup.account_id,
        since=T0,
        now=NOW,
    )
    assert again == 0
