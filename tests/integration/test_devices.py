"""The store checks a device's id itself, whichever path the device comes in by."""

import pytest

from kurir.domain.errors import ValidationError
from kurir.store import Store, accounts
from tests.support.store_data import T0


async def test_a_device_id_breaking_the_rule_is_refused_and_nothing_is_stored(
    store: Store,
) -> None:
    with pytest.raises(ValidationError) as caught:
        await store.write(
            accounts.open_account,
            name="shop",
            key="kr_test-key",
            key_label="",
            device={"public_id": "s/x", "phone": "628122222222", "transport": "sandbox"},
            now=T0,
        )
    assert caught.value.message == (
        "device id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got 's/x'"
    )
    # The account and key of the same transaction went too.
    assert await store.read(accounts.count_accounts) == 0
    assert await store.read(accounts.list_devices, account_id=None) == []
