"""With Kurir on PostgreSQL, whatsmeow keeps every device's keys in Kurir's own database.

whatsmeow itself (through neonize's Go library, offline) creates its
``whatsmeow_*`` tables there from the DSN Kurir derives from its own URL.
"""

import asyncio

import pytest
import sqlalchemy as sa
from neonize.client import ClientFactory

from kurir.store.database import Database
from kurir.transports.whatsapp_web.keystore import key_location
from tests.support.databases import PostgresUnavailable, postgres_database


@pytest.mark.postgres
def test_whatsmeow_creates_its_tables_in_kurirs_postgresql_database() -> None:
    try:
        context = postgres_database()
        url = context.__enter__()
    except PostgresUnavailable as error:
        pytest.skip(str(error))
    try:
        location, shared = key_location(url, 1)
        assert shared
        assert ClientFactory.get_all_devices_from_db(location) == []

        async def tables() -> set[str]:
            database = Database(url)
            try:
                return await database.read(
                    lambda connection: set(sa.inspect(connection).get_table_names())
                )
            finally:
                await database.dispose()

        found = asyncio.run(tables())
        assert {"whatsmeow_device", "whatsmeow_sessions", "whatsmeow_pre_keys"} <= found
    finally:
        context.__exit__(None, None, None)
