"""The clients' broadcast and contact calls against a real ``kurir serve``, with both clients.

The server has no dispatcher: a broadcast's messages stay planned, so its
state changes only by the calls under test.
"""

import asyncio
from collections.abc import Iterator

import pytest

from kurir import AsyncClient, Client, KurirError
from kurir.domain.broadcast import BROADCAST_CANCELLED
from tests.e2e.kurir_cli import sqlite_server
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess

#: The smallest file the server takes for a PNG image: its signature.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    directory = tmp_path_factory.mktemp("broadcasts-client")
    with sqlite_server(directory, args=("--no-dispatch",)) as process:
        yield process


@pytest.fixture
def tenant(server: KurirProcess) -> Tenant:
    return provision_tenant(server.database_url)


def test_contacts_and_a_broadcast_of_their_group_through_their_life(
    server: KurirProcess, tenant: Tenant
) -> None:
    with Client(server.base_url, tenant.api_key) as kurir:
        made = kurir.create_contacts(
            [
                {"phone": "08121111111", "name": "Budi", "opt1": "VIP"},
                {"phone": "+62 812-2222-222", "name": "Sari"},
            ],
            group="vip",
        )
        listed = kurir.list_contacts(group="vip")
        created = kurir.create_broadcast(
            device=tenant.device_id,
            title="Promo",
            group="vip",
            message="{Halo|Hai} {name}",
            interval_from=60,
            interval_to=60,
        )
        broadcast_id = created.broadcast_id
        shown = kurir.get_broadcast(broadcast_id)
        page = kurir.list_messages(broadcast=broadcast_id)
        newest = kurir.list_broadcasts(limit=1)
        paused = kurir.pause_broadcast(broadcast_id)
        resumed = kurir.resume_broadcast(broadcast_id)
        cancelled = kurir.cancel_broadcast(broadcast_id)
        after = kurir.get_broadcast(broadcast_id)
        failed = kurir.list_messages(broadcast=broadcast_id, limit=1)
        removed = kurir.delete_contact("08121111111", group="vip")
        left = kurir.list_contacts(group="vip")

    assert (made.total_customer, made.group) == ("2", "vip")
    assert sorted((c.phone, c.name, c.opt1) for c in listed.data) == [
        ("628121111111", "Budi", "VIP"),
        ("628122222222", "Sari", ""),
    ]
    assert (created.message, created.total_receiver) == ("Broadcast created", 2)
    assert (shown.title, shown.device, shown.state, shown.total_receiver) == (
        "Promo",
        tenant.device_id,
        "running",
        2,
    )
    assert shown.totals is not None
    assert shown.totals.scheduled + shown.totals.queued == 2
    texts = {m.to: m.content.message for m in page.data}
    assert texts.keys() == {"628121111111", "628122222222"}
    assert texts["628121111111"] in ("Halo Budi", "Hai Budi")
    assert texts["628122222222"] in ("Halo Sari", "Hai Sari")
    assert {m.broadcast for m in page.data} == {broadcast_id}
    assert page.next_cursor is None
    assert [b.broadcast_id for b in newest.data] == [broadcast_id]
    assert [(a.message, a.state) for a in (paused, resumed, cancelled)] == [
        ("Broadcast paused", "paused"),
        ("Broadcast resumed", "running"),
        ("Broadcast cancelled", "cancelled"),
    ]
    assert after.state == "cancelled"
    assert after.totals is not None
    assert after.totals.failed == 2
    assert [(m.status, m.last_error) for m in failed.data] == [("failed", BROADCAST_CANCELLED)]
    assert failed.next_cursor is not None
    assert (removed.phone, removed.deleted) == ("628121111111", 1)
    assert [c.phone for c in left.data] == ["628122222222"]


def test_refusals_carry_the_servers_status_and_message(
    server: KurirProcess, tenant: Tenant
) -> None:
    with Client(server.base_url, tenant.api_key) as kurir:
        with pytest.raises(KurirError) as missing:
            kurir.get_broadcast("0" * 16)
        with pytest.raises(KurirError) as dotted:
            kurir.pause_broadcast("../device/list")
        with pytest.raises(KurirError) as invalid:
            kurir.create_broadcast(
                device="default", title="T", receivers=[{"phone": "12", "message": "Hai"}]
            )
        with pytest.raises(KurirError) as unknown:
            kurir.delete_contact("08129999999")

    assert (missing.value.status_code, missing.value.message) == (
        404,
        f"broadcast {'0' * 16!r} not found",
    )
    assert dotted.value.status_code == 404
    assert invalid.value.status_code == 422
    assert invalid.value.message.startswith("1 receiver is invalid: receiver[0] ('12'): ")
    assert (unknown.value.status_code, unknown.value.message) == (
        404,
        "customer 628129999999 not found",
    )


def test_the_async_client_creates_a_media_broadcast_and_steers_it(
    server: KurirProcess, tenant: Tenant
) -> None:
    async def steer() -> None:
        async with AsyncClient(server.base_url, tenant.api_key) as kurir:
            made = await kurir.create_contacts(
                [{"phone": "08123333333", "name": "Ani"}], group="async"
            )
            assert made.total_customer == "1"
            twice = [
                await kurir.create_broadcast(
                    device="default",
                    title="Foto",
                    media=PNG,
                    caption="{Halo|Hai} {name}",
                    receivers=[{"phone": "08123333333"}, {"phone": "628123333333"}],
                    interval_from=60,
                    interval_to=60,
                    idempotency_key="foto-1",
                )
                for _ in range(2)
            ]
            created = twice[0]
            assert (created.total_receiver, created.total_duplicate) == (1, 1)
            assert twice[1] == created  # the retry created nothing
            broadcast_id = created.broadcast_id
            shown = await kurir.get_broadcast(broadcast_id)
            assert (shown.type, shown.title) == ("media", "Foto")
            [message] = (await kurir.list_messages(broadcast=broadcast_id)).data
            assert message.type == "media"
            assert message.content.caption in ("Halo Ani", "Hai Ani")
            listed = await kurir.list_broadcasts()
            assert broadcast_id in {b.broadcast_id for b in listed.data}
            steps = [
                await kurir.pause_broadcast(broadcast_id),
                await kurir.resume_broadcast(broadcast_id),
                await kurir.cancel_broadcast(broadcast_id),
            ]
            assert [step.state for step in steps] == ["paused", "running", "cancelled"]
            contacts = await kurir.list_contacts(group="async")
            assert [c.name for c in contacts.data] == ["Ani"]
            assert (await kurir.delete_contact("628123333333")).deleted == 1

    asyncio.run(steer())
