"""A migrated store on each real database, started and closed around each test."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kurir.store import Store
from kurir.store.migrate import upgrade_to_head_async
from tests.support.databases import database_of_kind


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await upgrade_to_head_async(database_url)
    opened = Store(database_url, pool_size=4)
    opened.start()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """An empty PostgreSQL database, for tests of what only PostgreSQL has (mark them postgres)."""
    with database_of_kind("postgresql", tmp_path) as url:
        yield url
