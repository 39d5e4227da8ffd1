"""Ids and keys that cannot name anything are refused without a database lookup.

The store here is real but its database is not migrated: any query fails, so
a refusal that comes back as 401 or 404 shows that nothing was asked (and so
nothing was cached), while a well-formed value shows that it is asked.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from kurir.api.auth import Authenticator
from kurir.api.errors import ApiError
from kurir.store import Store
from tests.support.databases import sqlite_url


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[Authenticator]:
    store = Store(sqlite_url(tmp_path), pool_size=1)
    store.start()
    try:
        yield Authenticator(store, cache_seconds=60)
    finally:
        await store.close()


@pytest.mark.parametrize("device", ["x" * 65, "d" * 30_000, "s/x", "dev\x00", ""])
async def test_a_device_id_breaking_the_rule_is_404_unasked(
    auth: Authenticator, device: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await auth.device(1, device)
    assert (caught.value.status_code, caught.value.message) == (
        404,
        f"device {device[:64]!r} not found",
    )


async def test_a_well_formed_device_id_is_looked_up(auth: Authenticator) -> None:
    with pytest.raises(DBAPIError):
        await auth.device(1, "x" * 64)


@pytest.mark.parametrize("key", ["k" * 257, "k" * 30_000])
async def test_a_key_too_long_to_be_one_is_401_unhashed_and_unasked(
    auth: Authenticator, key: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await auth.account_id(key)
    assert caught.value.status_code == 401


async def test_a_key_of_a_possible_length_is_looked_up(auth: Authenticator) -> None:
    with pytest.raises(DBAPIError):
        await auth.account_id("k" * 256)
