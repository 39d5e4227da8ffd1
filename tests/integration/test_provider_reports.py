"""A provider's reports in the store: messages found by the provider's id, late failures applied."""

import json

import pytest
import sqlalchemy as sa

from kurir.domain.status import MessageStatus
from kurir.store import Store, accepting, lifecycle
from kurir.store.device_events import DeviceEvents
from kurir.store.reading import message_ids_by_provider_id
from kurir.store.records import ProviderFailure
from kurir.store.tables import events, messages, webhook_endpoints
from tests.support.store_data import T0, add_account, message_rows, new_message

S = MessageStatus
REASON = "WhatsApp: (#131026) Message undeliverable"


async def _message_in(store: Store, status: MessageStatus) -> tuple[int, int, str]:
    """``(account, device, message id)`` of a message put in ``status`` by hand."""
    account, (device,) = await add_account(store)
    message = new_message(account, device)
    await store.write(accepting.insert_messages, [message])
    to_status = messages.update().values(
        status=status, lease_owner="worker-1", lease_until=T0 + 60_000
    )
    await store.database.write(lambda connection: connection.execute(to_status))
    return account, device, message.message_id


@pytest.mark.parametrize(
    ("current", "fails"),
    [
        (S.SENDING, True),  # Meta's webhook beat the worker's own record of the send
        (S.SENT, True),
        (S.DELIVERED, False),  # it reached the phone: a failure report is not about it
        (S.READ, False),
        (S.QUEUED, False),
        (S.FAILED, False),
        (S.CANCELLED, False),
    ],
)
async def test_a_reported_failure_fails_only_a_message_the_provider_had(
    store: Store, current: MessageStatus, fails: bool
) -> None:
    _, device, message_id = await _message_in(store, current)
    elsewhere = ProviderFailure(device + 1, message_id, REASON, T0)  # another device's word
    await store.write(lifecycle.fail_reported_messages, [elsewhere])
    assert (await message_rows(store))[0].status == current

    await store.write(
        lifecycle.fail_reported_messages, [ProviderFailure(device, message_id, REASON, T0 + 7)]
    )
    (row,) = await message_rows(store)
    if fails:
        assert (row.status, row.failed_at, row.last_error) == (S.FAILED, T0 + 7, REASON)
        assert (row.lease_owner, row.lease_until) == (None, None)
    else:
        assert (row.status, row.failed_at, row.lease_owner) == (current, None, "worker-1")


async def test_a_reported_failure_is_a_status_event_for_the_endpoints_that_want_it(
    store: Store,
) -> None:
    account, device, message_id = await _message_in(store, S.SENT)
    endpoint = webhook_endpoints.insert().values(
        public_id="wh_test",
        account_id=account,
        url="https://example.com/hook",
        events=json.dumps(["message.status"]),
        secret="whsec_test",
        created_at=T0,
        updated_at=T0,
    )
    await store.database.write(lambda connection: connection.execute(endpoint))

    await DeviceEvents(store, device_id=device, account_id=account).receipt(
        message_id, S.FAILED, T0 + 1_000, REASON
    )

    (row,) = await message_rows(store)
    assert (row.status, row.last_error) == (S.FAILED, REASON)
    stored = await store.database.read(
        lambda connection: connection.execute(sa.select(events.c.type, events.c.body)).all()
    )
    assert [kind for kind, _ in stored] == ["message.status"]
    body = json.loads(stored[0][1])
    assert body["data"]["message_id"] == message_id
    assert body["data"]["status"] == "Failed"


async def test_the_sink_passes_other_receipts_to_the_store_as_before(store: Store) -> None:
    account, device, message_id = await _message_in(store, S.SENT)
    sink = DeviceEvents(store, device_id=device, account_id=account)
    await sink.receipt(message_id, S.DELIVERED, T0 + 5)
    (row,) = await message_rows(store)
    assert (row.status, row.delivered_at, row.last_error) == (S.DELIVERED, T0 + 5, None)


async def test_messages_are_found_by_the_providers_id_on_their_own_device_only(
    store: Store,
) -> None:
    account, (first, second) = await add_account(store, devices=2)
    ours, theirs = new_message(account, first), new_message(account, second)
    await store.write(accepting.insert_messages, [ours, theirs])
    named = (
        messages.update()
        .where(messages.c.message_id == sa.bindparam("mid"))
        .values(provider_message_id=sa.bindparam("wamid"))
    )
    ids = [
        {"mid": ours.message_id, "wamid": "wamid.A"},
        {"mid": theirs.message_id, "wamid": "wamid.B"},
    ]
    await store.database.write(lambda connection: connection.execute(named, ids))

    found = await store.read(
        message_ids_by_provider_id, device_id=first, provider_ids={"wamid.A", "wamid.B", "x"}
    )
    assert found == {"wamid.A": ours.message_id}
    assert await store.read(message_ids_by_provider_id, device_id=first, provider_ids=()) == {}
