"""Who is calling: API keys checked against their stored hashes, briefly cached."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from kurir.api.errors import ApiError
from kurir.domain.devices import MAX_DEVICE_ID, is_device_id
from kurir.domain.keys import hash_api_key, hashes_match, parse_authorization
from kurir.store import Store, accounts
from kurir.store.records import Device

UNAUTHORIZED = ApiError(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})


V = TypeVar("V")


class LookupCache(Generic[V]):
    """Database lookups remembered for ``ttl_seconds``, refreshed ahead of expiry.

    Under load an entry never lapses: in the last quarter of its life one
    background query refreshes it while requests keep the current value. A
    miss is single-flight: requests arriving together wait on one query
    rather than each sending its own (which once stalled p99 for 80 ms at
    every expiry). A value is never served past its ttl, so a revoked key
    stops working within it. The map is bounded against a flood of keys, and
    so is each entry: callers pass keys of a fixed or checked length (a key's
    hash; a device id that passed its rule), and values are database rows.
    """

    def __init__(
        self,
        ttl_seconds: float,
        load: Callable[[str], Awaitable[V]],
        max_entries: int = 50_000,
    ) -> None:
        self._ttl = ttl_seconds
        self._load = load
        self._max = max_entries
        self._entries: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Future[V]] = {}

    async def get(self, key: str) -> V:
        entry = self._entries.get(key)
        if entry is not None:
            expires, value = entry
            now = time.monotonic()
            if now < expires:
                if now > expires - self._ttl / 4:
                    self._refresh(key)
                return value
        # shield: one caller giving up must not cancel the others' query.
        return await asyncio.shield(self._refresh(key))

    def forget(self, key: str) -> None:
        """Drop what is known of ``key``: the next request asks the database."""
        self._entries.pop(key, None)

    def _refresh(self, key: str) -> asyncio.Future[V]:
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load_and_keep(key))
            self._loading[key] = loading
            loading.add_done_callback(self._loaded)
        return loading

    async def _load_and_keep(self, key: str) -> V:
        value = await self._load(key)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl, value)
        return value

    def _loaded(self, future: asyncio.Future[V]) -> None:
        for key, loading in list(self._loading.items()):
            if loading is future:
                del self._loading[key]
        # A background refresh's failure is retried by the next request;
        # retrieving it here keeps asyncio from reporting it as lost.
        if not future.cancelled():
            future.exception()


class Authenticator:
    """Maps an Authorization header to an account id, or refuses with 401."""

    def __init__(self, store: Store, cache_seconds: float) -> None:
        async def key_owner(key_hash: str) -> tuple[int, str] | None:
            return await store.read(accounts.account_for_key, key_hash)

        async def device(public_id: str) -> Device | None:
            return await store.read(accounts.find_device, public_id)

        self._keys = LookupCache(cache_seconds, key_owner)
        self._devices = LookupCache(cache_seconds, device)

    async def account_id(self, authorization: str | None) -> int:
        key = parse_authorization(authorization)
        if key is None or len(key) > 256:
            raise UNAUTHORIZED
        presented = hash_api_key(key)
        found = await self._keys.get(presented)
        if found is None:
            raise UNAUTHORIZED
        account_id, stored = found
        if not hashes_match(stored, presented):
            raise UNAUTHORIZED
        return account_id

    async def device(self, account_id: int, public_id: str) -> Device:
        """The account's device; another account's device is as unknown as a missing one.

        It may have been removed since it was cached: storing a message checks
        again (see `messages.insert_messages`), and a caller told so has it
        forgotten with `forget_device`.
        """
        if not is_device_id(public_id):
            # No device has such an id; asking would cache it (a flood of
            # long ids once grew memory by hundreds of MB), and PostgreSQL
            # refuses a NUL in any text parameter (a client's typo as a 503).
            raise device_not_found(public_id)
        found = await self._devices.get(public_id)
        if found is None or found.account_id != account_id:
            raise device_not_found(public_id)
        return found

    def forget_device(self, public_id: str) -> None:
        """The device was found removed: refuse it here from now on, without asking."""
        self._devices.forget(public_id)


def device_not_found(public_id: str) -> ApiError:
    return ApiError(404, f"device {public_id[:MAX_DEVICE_ID]!r} not found")
