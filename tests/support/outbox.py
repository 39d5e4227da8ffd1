"""Webhook endpoints, events and receivers for the outbox's tests.

Endpoints are inserted as rows (their API is another module's); events are
written through `record_events`, as the store's writers write them. The
receiver checks every delivery with the Standard Webhooks library on the raw
body, as a receiver in the wild does, and counts deliveries per ``webhook-id``.
"""

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from kurir.domain.events import EVENTS, MessageStatusEvent
from kurir.domain.status import MessageStatus
from kurir.store import Store
from kurir.store.events import NewEvent, record_events
from kurir.store.tables import devices, webhook_attempts, webhook_deliveries, webhook_endpoints
from kurir.webhooks.signing import new_secret
from tests.support.origin import Received, answer
from tests.support.store_data import T0


async def add_endpoint(
    store: Store,
    account_id: int,
    url: str,
    *,
    secret: str | None = None,
    enabled: bool = True,
    **columns: Any,
) -> tuple[int, str]:
    """An endpoint of the account hearing of every event of every device: ``(id, secret)``."""
    secret = secret or new_secret()
    statement = (
        sa.insert(webhook_endpoints)
        .values(
            public_id=f"wh_{secrets.token_hex(6)}",
            account_id=account_id,
            url=url,
            events=msgspec.json.encode(list(EVENTS)).decode(),
            secret=secret,
            enabled=enabled,
            created_at=T0,
            updated_at=T0,
            **columns,
        )
        .returning(webhook_endpoints.c.id)
    )
    endpoint_id = await store.database.write(
        lambda connection: connection.execute(statement).scalar_one()
    )
    return endpoint_id, secret


async def emit(
    store: Store,
    account_id: int,
    device_id: int,
    *,
    at: int,
    count: int = 1,
    deadline_ms: int | None = None,
) -> int:
    """``count`` status events of the device at ``at`` (each a ms later); deliveries written."""

    def write(connection: sa.Connection) -> int:
        public_id = connection.execute(
            sa.select(devices.c.public_id).where(devices.c.id == device_id)
        ).scalar_one()
        new = [
            NewEvent(
                account_id,
                device_id,
                MessageStatusEvent(
                    device=public_id,
                    message_id=f"M{secrets.token_hex(6).upper()}",
                    status=MessageStatus.SENT,
                    at=at + n,
                ),
            )
            for n in range(count)
        ]
        return record_events(connection, new, deadline_ms=deadline_ms)

    return await store.write(write)


async def delivery_rows(store: Store, **where: Any) -> list[Any]:
    """The deliveries matching ``column=value`` conditions, in id order."""
    return await _rows(store, webhook_deliveries, where)


async def attempt_rows(store: Store, **where: Any) -> list[Any]:
    return await _rows(store, webhook_attempts, where)


async def endpoint_row(store: Store, endpoint_id: int) -> Any:
    (row,) = await _rows(store, webhook_endpoints, {"id": endpoint_id})
    return row


async def _rows(store: Store, table: sa.Table, where: dict[str, Any]) -> list[Any]:
    query = sa.select(table).order_by(table.c.id)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return await store.database.read(lambda connection: list(connection.execute(query).all()))


#: How a receiver answers the n-th delivery it verified (counted from 1).
Answer = Callable[[int, Received, asyncio.StreamWriter], Awaitable[None]]


def status(code: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> Answer:
    async def respond(_n: int, _request: Received, writer: asyncio.StreamWriter) -> None:
        await answer(writer, code, body, headers)

    return respond


class Receiver:
    """A receiver's handler: verifies each delivery with ``secret``, then answers as told.

    ``answers`` answer the first deliveries in turn; the last answers the
    rest. A delivery that fails verification is answered 401 and not counted.
    """

    def __init__(self, secret: str, *answers: Answer) -> None:
        self._webhook = Webhook(secret)
        self._answers = list(answers) or [status(204)]
        self.verified: list[Received] = []
        #: When each verified delivery arrived (``time.monotonic()``).
        self.times: list[float] = []
        #: Set at each verified delivery, for tests that wait for one.
        self.arrived = asyncio.Event()

    async def __call__(self, request: Received, writer: asyncio.StreamWriter) -> None:
        try:
            self._webhook.verify(request.body, request.headers)
        except WebhookVerificationError as error:
            await answer(writer, 401, str(error).encode())
            return
        self.verified.append(request)
        self.times.append(time.monotonic())
        self.arrived.set()
        n = len(self.verified)
        await self._answers[min(n, len(self._answers)) - 1](n, request, writer)

    def per_id(self) -> Counter[str]:
        """How often each ``webhook-id`` arrived."""
        return Counter(request.headers["webhook-id"] for request in self.verified)

    async def wait_for(self, count: int, *, within: float = 10.0) -> None:
        """Until ``count`` deliveries have been verified (at most ``within`` seconds)."""
        async with asyncio.timeout(within):
            while len(self.verified) < count:
                self.arrived.clear()
                await self.arrived.wait()
