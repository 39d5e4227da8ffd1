"""A failed statement's error, which is logged with its traceback, shows none of its values."""

import pytest
from sqlalchemy.exc import IntegrityError

from kurir.store import Store, tables
from tests.support.store_data import T0, add_account

SECRET = "whsec_do-not-log-0123456789"


async def test_an_integrity_error_names_no_parameter(store: Store) -> None:
    account, _ = await add_account(store)
    row = {
        "public_id": "wh_same",
        "account_id": account,
        "url": "https://example.com/hook",
        "events": '["message.status"]',
        "secret": SECRET,
        "created_at": T0,
        "updated_at": T0,
    }
    insert = tables.webhook_endpoints.insert()
    await store.database.write(lambda connection: connection.execute(insert, row))
    with pytest.raises(IntegrityError) as caught:
        await store.database.write(lambda connection: connection.execute(insert, row))
    assert SECRET not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
