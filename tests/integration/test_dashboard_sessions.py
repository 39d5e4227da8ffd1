"""Dashboard sessions on both databases: opened by a live key, ended by signing out,
by expiry, and by revoking the key they were opened with."""

from kurir.domain.keys import hash_api_key, new_api_key
from kurir.store import Store, accounts
from kurir.store.dashboard_sessions import end_session, find_session, open_session
from tests.support.store_data import T0, add_account

HOUR = 3_600_000


async def _key(store: Store, account_id: int) -> tuple[int, str]:
    key = new_api_key()
    stored = await store.write(
        accounts.create_api_key, account_id=account_id, key=key, label="t", now=T0
    )
    return stored.id, key


async def test_a_session_lives_until_signed_out_expired_or_its_key_revoked(store: Store) -> None:
    account_id, _ = await add_account(store)
    key_id, key = await _key(store, account_id)

    async def sign_in(token: str) -> None:
        opened = await store.write(
            open_session,
            key_hash=hash_api_key(key),
            token=token,
            csrf_token="csrf-" + token,
            now=T0,
            lifetime_ms=HOUR,
        )
        assert opened is not None
        assert opened.account_id == account_id

    await sign_in("one")
    await sign_in("two")
    found = await store.read(find_session, "one", now=T0 + 1)
    assert found is not None
    assert (found.account_id, found.csrf_token) == (account_id, "csrf-one")
    assert await store.read(find_session, "one", now=T0 + HOUR) is None  # expired
    assert await store.read(find_session, "unknown", now=T0 + 1) is None

    await store.write(end_session, "one")
    assert await store.read(find_session, "one", now=T0 + 1) is None
    assert await store.read(find_session, "two", now=T0 + 1) is not None

    await store.write(accounts.revoke_api_key, account_id=account_id, key_id=key_id, now=T0 + 2)
    assert await store.read(find_session, "two", now=T0 + 3) is None


async def test_no_session_for_a_key_that_is_not_live(store: Store) -> None:
    account_id, _ = await add_account(store)
    key_id, key = await _key(store, account_id)
    await store.write(accounts.revoke_api_key, account_id=account_id, key_id=key_id, now=T0)
    for presented in (key, "kr_never-issued"):
        opened = await store.write(
            open_session,
            key_hash=hash_api_key(presented),
            token="t",
            csrf_token="c",
            now=T0,
            lifetime_ms=HOUR,
        )
        assert opened is None
