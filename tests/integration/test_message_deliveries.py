"""A message's page lists the webhook deliveries of the events about it, and only those."""

from functools import partial

from kurir.domain.events import MessageReceivedEvent, MessageStatusEvent
from kurir.domain.status import MessageStatus
from kurir.store import Store
from kurir.store.delivery_log import deliveries_of_message
from kurir.store.events import NewEvent, record_events
from tests.support.event_rows import add_endpoint, public_id
from tests.support.store_data import T0, add_account

MESSAGE = "3EB0000000000000AAAA"


def _received(device: str, message_id: str, related: str | None, at: int) -> MessageReceivedEvent:
    return MessageReceivedEvent(
        device=device,
        message_id=message_id,
        related_message_id=related,
        type="text",
        sender="628111111111",
        sender_name="",
        receiver="628122222222",
        message="ok",
        media_url=None,
        author=None,
        at=at,
    )


async def test_the_deliveries_of_a_message_s_events_oldest_first(store: Store) -> None:
    account_id, (device_id,) = await add_account(store)
    other_account, (other_device,) = await add_account(store)
    await add_endpoint(store, account_id)
    await add_endpoint(store, account_id)
    await add_endpoint(store, other_account)
    device = await public_id(store, device_id)
    other = await public_id(store, other_device)
    sent = MessageStatusEvent(device=device, message_id=MESSAGE, status=MessageStatus.SENT, at=T0)
    events = [
        NewEvent(account_id, device_id, sent),
        # An answer quoting it is about it; its own id is the provider's.
        NewEvent(account_id, device_id, _received(device, "wamid.1", MESSAGE, T0 + 1)),
        NewEvent(account_id, device_id, _received(device, MESSAGE, None, T0 + 2)),
        # Another account's event naming the same id is not this message's.
        NewEvent(
            other_account,
            other_device,
            MessageStatusEvent(device=other, message_id=MESSAGE, status=MessageStatus.SENT, at=T0),
        ),
    ]
    await store.write(partial(record_events, new_events=events))

    found = await store.read(deliveries_of_message, MESSAGE, account_id=account_id)
    assert [delivery.event_type for _, delivery in found] == [
        "message.status",
        "message.status",
        "message.received",
        "message.received",
    ]
    assert len({endpoint for endpoint, _ in found}) == 2
    assert (
        await store.read(deliveries_of_message, "3EB0000000000000BBBB", account_id=account_id) == []
    )
