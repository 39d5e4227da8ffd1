"""What ``kurir doctor`` says of devices a person must see to, read from a real database."""

import sqlalchemy as sa

from kurir.config import Settings
from kurir.doctor import Finding, Level, check_database
from kurir.store import Store, tables
from tests.support.store_data import T0, add_account

FAR = T0 + 10**12  # a lease that has not run out


async def test_devices_that_cannot_send_are_named_with_what_to_do(
    store: Store, database_url: str
) -> None:
    _, (gone, logged_out, broken, fine) = await add_account(store, devices=4)
    devices = tables.devices

    def shape(connection: sa.Connection) -> dict[int, str]:
        connection.execute(devices.update().where(devices.c.id == gone).values(transport="gone"))
        held = {"lease_owner": "w1", "lease_until": FAR}
        connection.execute(
            devices.update().where(devices.c.id == logged_out).values(state="logged_out", **held)
        )
        connection.execute(
            devices.update()
            .where(devices.c.id == broken)
            .values(state="error: the access token expired", **held)
        )
        connection.execute(devices.update().where(devices.c.id == fine).values(**held))
        rows = connection.execute(sa.select(devices.c.id, devices.c.public_id))
        return {row.id: row.public_id for row in rows}

    names = await store.database.write(shape)
    found = await check_database(Settings(database_url=database_url))

    def about(device: int) -> Finding:
        (finding,) = [f for f in found if f.what.startswith(f"device {names[device]} ")]
        return finding

    assert about(gone).level == Level.FIX
    assert about(gone).what == (
        f"device {names[gone]} (gone): no such transport in this Kurir "
        "(cloud, sandbox, whatsapp-web)"
    )
    assert about(logged_out) == Finding(
        Level.FIX,
        f"device {names[logged_out]} (sandbox): logged_out",
        f"it was logged out on the phone; pair it again: kurir devices pair {names[logged_out]}",
    )
    assert about(broken).level == Level.FIX
    assert about(broken).what.endswith(": error: the access token expired")
    assert about(fine) == Finding(Level.OK, f"device {names[fine]} (sandbox): connected")
    # No worker has a heartbeat in this database.
    assert (
        Finding(
            Level.WARN,
            "workers: none is running, so nothing is sent",
            "start kurir serve (or kurir worker)",
        )
        in found
    )
