"""PostgreSQL specifics: LISTEN/NOTIFY wake-ups, and locks between removing and accepting.

An accept commit announces the devices that got new messages on one channel;
every worker listens and wakes only when one of its own devices is named. The
notification is sent inside the inserting transaction, so PostgreSQL delivers
it exactly when (and only if) the messages are committed.

Removing a device and accepting a message for it wait for each other on an
advisory lock of the device, so that no message is accepted once the removal
has committed, and none accepted before it is left waiting.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from kurir.store.tables import devices

log = logging.getLogger("kurir.store")

CHANNEL = "kurir_new_messages"
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


def lock_for_removal(connection: Connection, device_id: int) -> None:
    """Wait for the transactions accepting messages of the device, and hold off new ones."""
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_DEVICE_LOCKS, device_id)))


def notify_new_messages(connection: Connection, device_ids: Collection[int]) -> None:
    """Announce, on commit, that these devices have new messages."""
    payload = ",".join(str(device_id) for device_id in sorted(set(device_ids)))
    if len(payload) > _MAX_PAYLOAD:
        payload = ""
    connection.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


class NewMessageListener:
    """Keeps a LISTEN connection open and calls ``on_devices`` with the devices named.

    An empty set means "any device". After a lost connection it reconnects and
    reports an empty set, since notifications sent meanwhile are gone.
    """

    def __init__(self, url: str, on_devices: Callable[[set[int]], None]) -> None:
        parsed = make_url(url).set(drivername="postgresql")
        self._dsn = parsed.render_as_string(hide_password=False)
        self._on_devices = on_devices
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="listen-new-messages")

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
                log.warning("cannot LISTEN for new messages (%s); retrying", type(error).__name__)
                await asyncio.sleep(1)
                continue
            try:
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._notified)
                self._on_devices(set())  # whatever arrived while not listening
                await lost.wait()
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()
            await asyncio.sleep(0.2)

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_devices({int(part) for part in payload.split(",") if part})
