"""Events, written in the transaction of the change that caused them, and fanned out.

The store's owners of state (`lifecycle` for messages, `accounts` for device
states, `inbound` for what recipients send) call `record_events` with what
their change made happen, on the same connection, so an event exists exactly
when its change committed. Each event becomes one outbox row per endpoint of
its account that asked for its type and device (`webhook_deliveries`); an
event no endpoint wants is not stored at all, so an account without webhooks
pays one indexed read per batch.
"""

from collections.abc import Collection, Iterable
from typing import NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import (
    DeliveryStatus,
    MessageReceivedEvent,
    MessageReplyEvent,
    MessageStatusEvent,
    WebhookEvent,
    new_delivery_ids,
    new_event_ids,
    payload,
)
from kurir.store.bulk import insert_rows, reserve_ids
from kurir.store.deliveries import announce_due_deliveries, deadline_ms_of
from kurir.store.tables import events, webhook_deliveries, webhook_endpoints

_LIST = msgspec.json.Decoder(list[str])
_EVENT_COLUMNS = (
    "id",
    "public_id",
    "account_id",
    "device_id",
    "type",
    "body",
    "created_at",
    "message_id",
)
_DELIVERY_COLUMNS = (
    "public_id",
    "account_id",
    "endpoint_id",
    "event_id",
    "status",
    "event_at",
    "due_at",
    "deadline_at",
)


class NewEvent(NamedTuple):
    """An event of ``account_id``'s device ``device_id`` (its public id is in ``event``)."""

    account_id: int
    device_id: int
    event: WebhookEvent


class _Subscriber(NamedTuple):
    id: int
    account_id: int
    events: frozenset[str]
    #: Public ids of the devices it hears of; None for all of the account's.
    devices: frozenset[str] | None

    def wants(self, event: WebhookEvent) -> bool:
        return event.event in self.events and (self.devices is None or event.device in self.devices)


def record_events(
    connection: Connection,
    new_events: Iterable[NewEvent],
    *,
    account_ids: Collection[int] | None = None,
    deadline_ms: int | None = None,
) -> int:
    """Store each event some enabled endpoint wants, with a delivery per such endpoint.

    A caller that names the events' ``account_ids`` may pass the events as a
    generator: it is not run when none of those accounts has an enabled
    endpoint, so a batch of changes without webhooks makes no events at all.
    Returns the number of deliveries written. The webhook workers wake when
    the transaction commits. ``deadline_ms`` is the store's deadline setting
    unless given.
    """
    if account_ids is None:
        new_events = list(new_events)
        account_ids = {e.account_id for e in new_events}
    if not account_ids:
        return 0
    subscribers = _subscribers(connection, set(account_ids))
    if not subscribers:
        return 0
    wanted = [
        (new, [s for s in subscribers if s.account_id == new.account_id and s.wants(new.event)])
        for new in new_events
    ]
    wanted = [(new, endpoints) for new, endpoints in wanted if endpoints]
    if not wanted:
        return 0
    event_ids = reserve_ids(connection, events, len(wanted))
    public_ids = new_event_ids(len(wanted))
    insert_rows(
        connection,
        events,
        _EVENT_COLUMNS,
        [
            (
                event_id,
                public_id,
                new.account_id,
                new.device_id,
                new.event.event,
                payload(new.event).decode(),
                new.event.at,
                _message_of(new.event),
            )
            for (new, _), event_id, public_id in zip(wanted, event_ids, public_ids, strict=True)
        ],
    )
    if deadline_ms is None:
        deadline_ms = deadline_ms_of(connection)
    delivery_ids = iter(new_delivery_ids(sum(len(endpoints) for _, endpoints in wanted)))
    rows = [
        (
            next(delivery_ids),
            new.account_id,
            endpoint.id,
            event_id,
            DeliveryStatus.PENDING.value,
            new.event.at,
            new.event.at,
            new.event.at + deadline_ms,
        )
        for (new, endpoints), event_id in zip(wanted, event_ids, strict=True)
        for endpoint in endpoints
    ]
    insert_rows(connection, webhook_deliveries, _DELIVERY_COLUMNS, rows)
    # Wake-ups: callers are every kind of write, and none need know.
    announce_due_deliveries(connection)
    return len(rows)


def _message_of(event: WebhookEvent) -> str | None:
    """Kurir's message the event is about, for that message's page (see tables.events)."""
    if isinstance(event, MessageStatusEvent | MessageReplyEvent):
        return event.message_id
    if isinstance(event, MessageReceivedEvent):
        return event.related_message_id  # the one it quotes; its own id is the provider's
    return None


#: Built once: building and keying the statement cost more than running it.
_SUBSCRIBERS = sa.select(
    webhook_endpoints.c.id,
    webhook_endpoints.c.account_id,
    webhook_endpoints.c.events,
    webhook_endpoints.c.devices,
).where(
    webhook_endpoints.c.account_id.in_(sa.bindparam("account_ids", expanding=True)),
    webhook_endpoints.c.enabled.is_(True),
)
# An endpoint deleted meanwhile would fail this whole batch on the deliveries'
# foreign key; on PostgreSQL the share lock makes its deletion wait for this commit instead.
_SUBSCRIBERS_LOCKED = _SUBSCRIBERS.with_for_update(key_share=True, read=True)


def _subscribers(connection: Connection, account_ids: set[int]) -> list[_Subscriber]:
    query = _SUBSCRIBERS_LOCKED if connection.dialect.name == "postgresql" else _SUBSCRIBERS
    found = connection.execute(query, {"account_ids": sorted(account_ids)})
    return [
        _Subscriber(
            id=row.id,
            account_id=row.account_id,
            events=frozenset(_LIST.decode(row.events)),
            devices=None if row.devices is None else frozenset(_LIST.decode(row.devices)),
        )
        for row in found
    ]
