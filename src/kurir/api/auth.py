"""Who is calling: API keys checked against their stored hashes, briefly cached."""

import time
from typing import cast

from kurir.api.errors import ApiError
from kurir.domain.keys import hash_api_key, hashes_match, parse_authorization
from kurir.store import Store, accounts
from kurir.store.records import Device

UNAUTHORIZED = ApiError(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})


class TTLCache:
    """A small map whose entries expire, bounded so a flood of keys cannot grow it."""

    def __init__(self, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, object]] = {}

    def get(self, key: str) -> tuple[bool, object]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: str, value: object) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl, value)


class Authenticator:
    """Maps an Authorization header to an account id, or refuses with 401."""

    def __init__(self, store: Store, cache_seconds: float) -> None:
        self._store = store
        self._keys = TTLCache(cache_seconds)
        self._devices = TTLCache(cache_seconds)

    async def account_id(self, authorization: str | None) -> int:
        key = parse_authorization(authorization)
        if key is None or len(key) > 256:
            raise UNAUTHORIZED
        presented = hash_api_key(key)
        found, cached = self._keys.get(presented)
        if not found:
            cached = await self._store.read(accounts.account_for_key, presented)
            self._keys.put(presented, cached)
        if cached is None:
            raise UNAUTHORIZED
        account_id, stored = cast(tuple[int, str], cached)
        if not hashes_match(stored, presented):
            raise UNAUTHORIZED
        return account_id

    async def device(self, account_id: int, public_id: str) -> Device:
        """The account's device; another account's device is as unknown as a missing one."""
        if "\x00" in public_id:
            # No device id holds a NUL, and PostgreSQL refuses one in any text
            # parameter; asking would turn a client's typo into a 503.
            raise ApiError(404, f"device {public_id[:64]!r} not found")
        found, cached = self._devices.get(public_id)
        if not found:
            cached = await self._store.read(accounts.find_device, public_id)
            self._devices.put(public_id, cached)
        if not isinstance(cached, Device) or cached.account_id != account_id:
            raise ApiError(404, f"device {public_id[:64]!r} not found")
        return cached
