"""A migrated store on each real database, started and closed around each test."""

from collections.abc import AsyncIterator

import pytest

from kurir.store import Store
from kurir.store.migrate import upgrade_to_head_async


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await upgrade_to_head_async(database_url)
    opened = Store(database_url, pool_size=4)
    opened.start()
    try:
        yield opened
    finally:
        await opened.close()
