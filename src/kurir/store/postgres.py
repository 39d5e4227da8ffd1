"""PostgreSQL specifics: LISTEN/NOTIFY wake-ups, and locks between removing and accepting.

An accept commit announces the devices that got new messages on one channel;
every worker listens and wakes only when one of its own devices is named. A
commit that made webhook deliveries due announces it on another, naming
nothing: any webhook worker with room may take them. A notification is sent
inside the transaction that wrote the rows, so PostgreSQL delivers it exactly
when (and only if) they are committed.

Removing a device and accepting a message for it wait for each other on an
advisory lock of the device, so that no message is accepted once the removal
has committed, and none accepted before it is left waiting.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.util import await_only

from kurir.store.tables import devices

log = logging.getLogger("kurir.store")

CHANNEL = "kurir_new_messages"
DELIVERIES_CHANNEL = "kurir_webhook_deliveries"
# NOTIFY payloads stop at 8000 bytes; past this, name no device and wake all.
_MAX_PAYLOAD = 7000
# An arbitrary constant naming Kurir's per-device advisory locks (the device id
# is the second key; the migration lock uses the one-key form, a space apart).
_DEVICE_LOCKS = 0x6B72  # "kr"


def hold_off_removal(connection: Connection, device_ids: Collection[int]) -> None:
    """Keep these devices from being removed until the transaction ends.

    Accepting takes this shared lock before it checks that the devices are
    in service, and a removal takes it exclusively (`lock_for_removal`). In
    READ COMMITTED each statement sees what committed before it started, so
    the check after the lock sees a removal that committed while it waited,
    and a removal's statements after its lock see every message accepted
    before it. Row locks on the devices would do the same, but would also
    queue behind each lease renewal and could deadlock with one.
    """
    connection.execute(
        sa.select(sa.func.pg_advisory_xact_lock_shared(_DEVICE_LOCKS, devices.c.id)).where(
            devices.c.id.in_(list(device_ids))
        )
    )


def copy_unopposed(
    connection: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
) -> bool:
    """COPY ``rows`` into ``table``; whether they are stored (False: one broke a unique key).

    COPY skips the planning and the per-row executor work of an INSERT, but
    knows no ON CONFLICT: a conflict aborts it, so it runs in a savepoint,
    which takes the transaction back to before it, with none of the rows.
    """
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection inside a transaction has its driver's
    savepoint = connection.begin_nested()
    try:
        await_only(driver.copy_records_to_table(table.name, records=rows, columns=columns))
    except asyncpg.UniqueViolationError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def lock_for_removal(connection: Connection, device_id: int) -> None:
    """Wait for the transactions accepting messages of the device, and hold off new ones."""
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_DEVICE_LOCKS, device_id)))


def notify_new_messages(connection: Connection, device_ids: Collection[int]) -> None:
    """Announce, on commit, that these devices have new messages."""
    payload = ",".join(str(device_id) for device_id in sorted(set(device_ids)))
    if len(payload) > _MAX_PAYLOAD:
        payload = ""
    connection.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


def notify_due_deliveries(connection: Connection) -> None:
    """Announce, on commit, that webhook deliveries have become due."""
    connection.execute(sa.select(sa.func.pg_notify(DELIVERIES_CHANNEL, "")))


def on_new_messages(on_devices: Callable[[set[int]], None]) -> Callable[[str], None]:
    """A `Listener` handler for `CHANNEL`: calls ``on_devices`` with the devices named.

    An empty set means "any device", as after a reconnection.
    """
    return lambda payload: on_devices({int(part) for part in payload.split(",") if part})


class Listener:
    """Keeps a LISTEN connection open and calls each channel's handler with the payloads.

    After a lost connection it reconnects and calls every handler with an
    empty payload, which means "anything", since notifications sent
    meanwhile are gone.
    """

    def __init__(self, url: str, handlers: Mapping[str, Callable[[str], None]]) -> None:
        parsed = make_url(url).set(drivername="postgresql")
        self._dsn = parsed.render_as_string(hide_password=False)
        self._handlers = dict(handlers)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot LISTEN for new work (%s); retrying", type(error).__name__)
                await asyncio.sleep(1)
                continue
            try:
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                for channel in self._handlers:
                    await connection.add_listener(channel, self._notified)
                for handler in self._handlers.values():
                    handler("")  # whatever arrived while not listening
                await lost.wait()
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()
            await asyncio.sleep(0.2)

    def _notified(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        self._handlers[channel](payload)
