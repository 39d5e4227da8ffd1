"""What both Cloud API measurements share: devices on the stand-in, messages, and rates."""

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from bench_dispatch import insert_due_messages
from graph_server import phone_number, phone_number_id
from kurir.clock import now_ms
from kurir.store import Store, accounts
from kurir.store.migrate import upgrade_to_head
from kurir.store.tables import messages

# The stand-in's credentials live with the tests, at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.graph_standin import ACCESS_TOKEN, APP_SECRET

INBOUND_DEVICE = "bench-cloud"


def cloud_config(base_url: str, number: int) -> str:
    return msgspec.json.encode(
        {
            "phone_number_id": phone_number_id(number),
            "access_token": ACCESS_TOKEN,
            "app_secret": APP_SECRET,
            "verify_token": "bench-verify-token",
            "base_url": base_url,
        }
    ).decode()


def prefill(url: str, base_url: str, device_count: int, message_count: int, status: str) -> None:
    """Cloud devices ``bench-cloud``, ``bench-cloud-001``…; messages in turn over them."""
    upgrade_to_head(url)

    async def fill() -> None:
        store = Store(url, pool_size=2)
        now = now_ms()

        def add_devices(connection: Connection) -> tuple[int, list[int]]:
            account = accounts.create_account(connection, name="bench", now=now)
            added = [
                accounts.add_device(
                    connection,
                    public_id=INBOUND_DEVICE if n == 0 else f"{INBOUND_DEVICE}-{n:03d}",
                    account_id=account.id,
                    phone=phone_number(n).digits,
                    transport="cloud",
                    config=cloud_config(base_url, n),
                    created_at=now,
                )
                for n in range(device_count)
            ]
            return account.id, [device.id for device in added]

        try:
            account_id, device_ids = await store.database.write(add_devices)
            await insert_due_messages(
                store, account_id, device_ids, message_count, status=status, now=now
            )
        finally:
            await store.close()

    asyncio.run(fill())


def count_statuses(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
            )
            return {str(status): int(n) for status, n in rows}
    finally:
        engine.dispose()


def message_ids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.select(messages.c.message_id)).scalars())
    finally:
        engine.dispose()


@dataclass
class Rate:
    what: str
    count: int
    seconds: float
    #: CPU seconds of the processes involved, named.
    cpu: str
    note: str = ""
    #: CPU seconds of the process measured (client, worker or server): on a
    #: loaded machine, what it could do per core matters beside what it did.
    measured_cpu: float = 0.0

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_cpu_s(self) -> float:
        return self.count / self.measured_cpu if self.measured_cpu > 0 else 0.0
