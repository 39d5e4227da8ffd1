"""WhatsApp Web end to end: ``kurir serve`` runs session processes with the fake client.

Pairing goes through the API as a user's would (the QR code changes, the
phone scans one), messages go out and come back as receipts and replies,
and session processes die and are replaced while the worker's messages go on.
"""

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContextInfo,
    ExtendedTextMessage,
    ImageMessage,
    InteractiveResponseMessage,
    Message,
)

from kurir.client import AsyncClient, Client, KurirError
from kurir.clock import now_ms
from kurir.store import Store, accounts
from kurir.transports.whatsapp_web import store as db
from tests.e2e.kurir_cli import kurir_env, run_kurir, succeeded
from tests.support.databases import sqlite_url
from tests.support.provision import Tenant, provision_tenant
from tests.support.receiver import Receiver
from tests.support.server import KurirProcess
from tests.support.whatsapp_world import FakeWhatsApp, wait_for

RECIPIENT = "628111111111"
#: What a WhatsApp Web device may report, by the issue's list; banned and error carry details.
STATES = {"unpaired", "pairing", "connected", "disconnected", "logged_out"}


def add_web_devices(url: str, account_id: int, names: list[str], *, paired: bool) -> None:
    """WhatsApp Web devices for an account; ``paired`` ones as if linked before."""

    async def add() -> None:
        store = Store(url, pool_size=1)
        try:
            for name in names:
                device = await store.database.write(
                    functools.partial(
                        accounts.add_device,
                        public_id=name,
                        account_id=account_id,
                        phone="628122222222",
                        transport="whatsapp-web",
                        created_at=now_ms(),
                    )
                )
                if paired:
                    await store.write(
                        db.set_jid, device_id=device.id, jid="628122222222:7@s.whatsapp.net", now=0
                    )
        finally:
            await store.close()

    asyncio.run(add())


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[KurirProcess, Tenant, FakeWhatsApp]]:
    url = sqlite_url(tmp_path)
    tenant = provision_tenant(url)
    world = FakeWhatsApp(tmp_path / "whatsapp", qr_seconds=1.5, qr_count=8)
    server = KurirProcess(
        url,
        tmp_path,
        api_key=tenant.api_key,
        env={
            **world.env(),
            "KURIR_RETRY_BASE_SECONDS": "0.2",
            # The test's webhook receiver listens on loopback.
            "KURIR_ALLOW_PRIVATE_URLS": "true",
        },
    )
    yield server, tenant, world
    server.stop()


def device_state(client: httpx.Client, device: str) -> str:
    devices = client.get("/device/list").json()["data"]
    return str(next(d["state"] for d in devices if d["device"] == device))


def message_status(client: httpx.Client, message_id: str) -> str:
    return str(client.get(f"/message/{message_id}").json()["data"]["status"])


def delivered(client: httpx.Client, message_id: str) -> bool:
    return message_status(client, message_id) == "delivered"


def events_of(receiver: Receiver, event: str) -> list[dict[str, Any]]:
    return [item.body for item in receiver.snapshot() if item.event == event]


def states_seen(receiver: Receiver) -> list[str]:
    return [str(body["data"]["state"]) for body in events_of(receiver, "device.state")]


def test_pair_by_qr_send_receive_and_survive_a_killed_session(
    setup: tuple[KurirProcess, Tenant, FakeWhatsApp],
) -> None:
    server, tenant, world = setup
    add_web_devices(server.database_url, tenant.account_id, ["wa-e2e"], paired=False)
    phone = world.phone("wa-e2e")
    server.start()
    with server.client(tenant.api_key) as client, Receiver() as receiver:
        created = client.post(
            "/webhooks",
            json={
                "url": receiver.url,
                "events": ["message.reply", "message.received", "device.state"],
            },
        )
        assert created.status_code == 200, created.text
        receiver.secret = created.json()["data"]["secret"]
        wait_for(lambda: device_state(client, "wa-e2e") == "unpaired", what="the worker")
        for body, status, message in (
            (
                {"device": "wa-e2e", "phones": [RECIPIENT]},
                409,
                "device wa-e2e is unpaired: numbers can be checked only while it is connected",
            ),
            (
                {"device": tenant.device_id, "phones": [RECIPIENT]},
                409,
                f"device {tenant.device_id} uses the sandbox transport, not whatsapp-web",
            ),
            ({"device": "wa-nope", "phones": [RECIPIENT]}, 404, "device 'wa-nope' not found"),
            ({"phones": [RECIPIENT]}, 422, "device is required"),
            ({"device": "wa-e2e", "phones": []}, 422, "phones must hold at least one phone number"),
            ({"device": "wa-e2e", "phones": "x"}, 422, "phones must be an array of phone numbers"),
            ({"device": "wa-e2e", "phones": [True]}, 422, "phones[0] must be a phone number"),
            (
                {"device": "wa-e2e", "phones": [RECIPIENT, "0811"]},
                422,
                "phones[1] is not a valid phone number: '0811'",
            ),
            (
                {"device": "wa-e2e", "phones": [RECIPIENT] * 51},
                422,
                "phones holds 51 numbers; at most 50 at a time",
            ),
        ):
            refused = client.post("/check-numbers", json=body)
            assert (refused.status_code, refused.json()) == (
                status,
                {"status": "error", "message": message},
            ), body
        assert (
            client.post(
                "/check-numbers",
                json={"device": "wa-e2e", "phones": [RECIPIENT]},
                headers={"Authorization": "wrong"},
            ).status_code
            == 401
        )
        started = client.post("/device/scan/wa-e2e").json()
        assert started["state"] == "pairing"
        assert started["qr"] == phone.qr()
        assert started["qr_image"].startswith("data:image/png;base64,")
        first = started["qr"]
        # WhatsApp rotates the code; the API shows each new one.
        second = wait_for(
            lambda: (qr := client.get("/device/scan/wa-e2e").json()["qr"]) != first and qr,
            what="a new QR code",
        )
        phone.scan(second)
        wait_for(lambda: device_state(client, "wa-e2e") == "connected", what="the link")
        again = client.post("/device/scan/wa-e2e")
        assert again.status_code == 409
        assert "paired already" in again.json()["message"]

        # Which numbers are on WhatsApp, asked through the device's session.
        phone.not_on_whatsapp("628111111112")
        with Client(server.base_url, tenant.api_key) as kurir:
            checked = kurir.check_numbers("wa-e2e", ["08111111111", "+62 811-1111-112"])
        assert [(c.phone, c.on_whatsapp) for c in checked.data] == [
            (RECIPIENT, True),
            ("628111111112", False),
        ]

        sent = client.post(
            "/send/text", json={"device": "wa-e2e", "phone": RECIPIENT, "message": "Halo"}
        ).json()
        wait_for(lambda: message_status(client, sent["message_id"]) == "delivered", what="delivery")
        native, numbered = (
            client.post(
                "/send/button",
                json={
                    "device": "wa-e2e",
                    "phone": RECIPIENT,
                    "message_header": "Header",
                    "message": "Pilih salah satu:",
                    "message_footer": "Footer",
                    "buttons": ["Opsi 1", "Opsi 2"],
                },
            ).json()["message_id"]
            for _ in range(2)
        )
        wait_for(lambda: len(phone.sent()) == 3, what="the button messages")
        provider_id, _, out = phone.sent()[1]
        assert out.conversation.endswith("1. Opsi 1\n2. Opsi 2\n\n_Footer_")

        # A native-flow reply quoting the first message becomes its button reply.
        phone.send_inbound(
            RECIPIENT,
            Message(
                interactiveResponseMessage=InteractiveResponseMessage(
                    body=InteractiveResponseMessage.Body(text="Opsi 2"),
                    nativeFlowResponseMessage=InteractiveResponseMessage.NativeFlowResponseMessage(
                        name="quick_reply", paramsJSON='{"id": "2"}', version=3
                    ),
                    contextInfo=ContextInfo(stanzaID=provider_id),
                )
            ),
        )
        reply = wait_for(
            lambda: client.get(f"/message/{native}").json()["data"]["reply"],
            what="the button reply",
        )
        assert reply["button"] == "Opsi 2"
        assert message_status(client, native) == "read"
        # The second went out as numbered text: "2" typed back is its reply, at the webhook.
        phone.send_inbound(RECIPIENT, Message(conversation="2"), name="Budi")
        replied = wait_for(
            lambda: [
                body["data"]
                for body in events_of(receiver, "message.reply")
                if body["data"]["message_id"] == numbered
            ],
            what="message.reply of the numbered reply",
        )
        assert replied[0]["button_index"] == 2
        assert replied[0]["button_label"] == "Opsi 2"
        assert replied[0]["sender"] == RECIPIENT
        phone.send_inbound(
            RECIPIENT,
            Message(
                extendedTextMessage=ExtendedTextMessage(
                    text="Terima kasih", contextInfo=ContextInfo(stanzaID=provider_id)
                )
            ),
            name="Budi",
        )
        received = wait_for(
            lambda: events_of(receiver, "message.received"), what="message.received"
        )
        assert received[0]["data"]["message"] == "Terima kasih"
        assert received[0]["data"]["related_message_id"] == native
        inbound = client.get("/messages/inbound?device=wa-e2e").json()["data"]
        assert [item["text"] for item in inbound] == ["Terima kasih"]
        assert inbound[0]["from"] == RECIPIENT

        # kill -9 of the session: the worker starts another; messages go on, none lost.
        phone.kill_session()
        ids = [
            client.post(
                "/send/text", json={"device": "wa-e2e", "phone": RECIPIENT, "message": f"m{n}"}
            ).json()["message_id"]
            for n in range(3)
        ]
        for message_id in ids:
            wait_for(
                functools.partial(delivered, client, message_id),
                within=30,
                what=f"{message_id} after the restart",
            )
        assert len(phone.pids()) >= 2

        # The phone removes the link: the application hears of it.
        phone.log_out()
        wait_for(lambda: "logged_out" in states_seen(receiver), what="device.state logged_out")
        assert device_state(client, "wa-e2e") == "logged_out"
        assert not phone.paired()

        async def unlink() -> tuple[str, str | None, str]:
            async with AsyncClient(server.base_url, tenant.api_key) as kurir:
                seen = await kurir.pairing("wa-e2e")
                gone = await kurir.disconnect_device("wa-e2e")
                return seen.state, seen.last_result, gone.state

        assert asyncio.run(unlink()) == ("logged_out", "logged out: LOGGED_OUT", "unpaired")
        wait_for(lambda: states_seen(receiver)[-1] == "unpaired", what="device.state unpaired")
        seen = states_seen(receiver)
        assert set(seen) <= STATES, seen
        for state in ("pairing", "connected", "disconnected", "logged_out", "unpaired"):
            assert state in seen, seen


def test_ten_devices_in_one_worker_one_crashing_again_and_again(
    setup: tuple[KurirProcess, Tenant, FakeWhatsApp],
) -> None:
    server, tenant, world = setup
    names = [f"wa-{n}" for n in range(10)]
    add_web_devices(server.database_url, tenant.account_id, names, paired=True)
    for name in names:
        world.phone(name).dir.joinpath("keys.json").write_text(
            '{"jid": "628122222222:7@s.whatsapp.net"}'
        )
    world.phone("wa-0").crash_on_start(1000)
    server.start()
    with server.client(tenant.api_key) as client:
        ids = {
            name: [
                client.post(
                    "/send/text", json={"device": name, "phone": RECIPIENT, "message": f"{n}"}
                ).json()["message_id"]
                for n in range(3)
            ]
            for name in names
        }
        for name in names[1:]:
            for message_id in ids[name]:
                wait_for(
                    functools.partial(delivered, client, message_id),
                    within=30,
                    what=f"{name}'s {message_id}",
                )
        assert device_state(client, "wa-0") not in ("connected", "idle")
        assert all(message_status(client, m) in ("queued", "sending") for m in ids["wa-0"])
        # Started again and again, with backoff.
        wait_for(lambda: len(world.phone("wa-0").pids()) >= 3, within=20, what="restarts")
        for name in names[1:]:
            assert len(world.phone(name).pids()) == 1  # never disturbed
    # A worker that stops ends its sessions: none is left behind.
    server.stop()
    assert all(not _alive(pid) for name in names for pid in world.phone(name).pids())


def test_an_inbound_picture_reaches_the_application_as_a_url_it_fetches_with_its_key(
    setup: tuple[KurirProcess, Tenant, FakeWhatsApp],
) -> None:
    server, tenant, world = setup
    other = provision_tenant(server.database_url)
    add_web_devices(server.database_url, tenant.account_id, ["wa-in"], paired=True)
    phone = world.phone("wa-in")
    phone.dir.joinpath("keys.json").write_text('{"jid": "628122222222:7@s.whatsapp.net"}')
    picture = bytes.fromhex("ffd8ffe0") + b"JFIF" * 100
    server.start()
    with server.client(tenant.api_key) as client, Receiver() as receiver:
        created = client.post(
            "/webhooks", json={"url": receiver.url, "events": ["message.received"]}
        )
        receiver.secret = created.json()["data"]["secret"]
        wait_for(lambda: device_state(client, "wa-in") == "connected", what="the session")
        phone.send_inbound(
            RECIPIENT,
            Message(
                imageMessage=ImageMessage(
                    caption="bukti transfer",
                    fileSHA256=phone.host_file(picture),
                    fileLength=len(picture),
                    mimetype="image/jpeg",
                )
            ),
            name="Budi",
        )
        (event,) = wait_for(lambda: events_of(receiver, "message.received"), what="the event")
        data = event["data"]
        assert (data["type"], data["message"]) == ("image", "bukti transfer")
        assert data["media_url"] == f"/messages/inbound/{data['message_id']}/media"
        (listed,) = client.get("/messages/inbound?device=wa-in").json()["data"]
        assert listed["media_url"] == data["media_url"]

        # The application resolves it against the address it calls Kurir at.
        fetched = client.get(data["media_url"])
        assert fetched.status_code == 200
        assert fetched.content == picture
        assert fetched.headers["content-type"] == "image/jpeg"
        assert fetched.headers["content-disposition"] == "attachment"
        assert fetched.headers["x-content-type-options"] == "nosniff"
        assert client.get(data["media_url"], headers={"Authorization": "wrong"}).status_code == 401
        missing = {
            "status": "error",
            "message": f"no file of an inbound message {data['message_id']!r}",
        }
        with server.client(other.api_key) as stranger:
            refused = stranger.get(data["media_url"])
        assert (refused.status_code, refused.json()) == (404, missing)
        unknown = client.get("/messages/inbound/nonsense/media")
        assert (unknown.status_code, unknown.json()["status"]) == (404, "error")

    # The same through both Python clients.
    with Client(server.base_url, tenant.api_key) as kurir:
        assert kurir.fetch_media(data["media_url"]) == picture
        with pytest.raises(ValueError, match="not an inbound message's media_url"):
            kurir.fetch_media("/device/list")

    async def fetch() -> bytes:
        async with AsyncClient(server.base_url, tenant.api_key) as kurir:
            return await kurir.fetch_media(data["media_url"])

    assert asyncio.run(fetch()) == picture
    with (
        Client(server.base_url, other.api_key) as stranger_client,
        pytest.raises(KurirError) as refused_error,
    ):
        stranger_client.fetch_media(data["media_url"])
    assert (refused_error.value.status_code, refused_error.value.message) == (
        404,
        missing["message"],
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie not yet reaped by anyone counts as gone.
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_the_cli_adds_a_paced_device_and_pairs_it_by_code(
    setup: tuple[KurirProcess, Tenant, FakeWhatsApp],
) -> None:
    server, tenant, world = setup
    added = run_kurir(
        "devices",
        "add",
        "--account",
        str(tenant.account_id),
        "--phone",
        "0812 2222 222",
        "--id",
        "wa-cli",
        "--transport",
        "whatsapp-web",
        database_url=server.database_url,
    )
    assert "wa-cli (whatsapp-web, 628122222222)" in succeeded(added)
    server.start()
    with server.client(tenant.api_key) as client:
        listed = next(
            d for d in client.get("/device/list").json()["data"] if d["device"] == "wa-cli"
        )
        assert (listed["min_interval_ms"], listed["max_interval_ms"]) == (3000, 8000)
        wait_for(lambda: device_state(client, "wa-cli") == "unpaired", what="the worker")
    pairing = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kurir",
            "devices",
            "pair",
            "wa-cli",
            "--code",
            "--url",
            server.base_url,
            "--api-key",
            tenant.api_key,
        ],
        env=kurir_env(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    phone = world.phone("wa-cli")
    assert pairing.stdout is not None
    shown = pairing.stdout.readline()  # as a person reads it, before typing it
    code = shown.rsplit(" ", 1)[-1].strip()
    assert code == phone.pair_code()
    phone.scan(code)
    out, err = pairing.communicate(timeout=30)
    assert pairing.returncode == 0, err
    assert "wa-cli is paired and connected" in out

    # Removed while its session runs: the session ends and its key file goes.
    keys = list(
        (Path(server.database_url.removeprefix("sqlite:///")).parent / "whatsapp-web").glob(
            "device-*.db"
        )
    )
    assert len(keys) == 1
    removed = run_kurir(
        "devices",
        "remove",
        "--account",
        str(tenant.account_id),
        "wa-cli",
        database_url=server.database_url,
    )
    assert "device wa-cli removed" in succeeded(removed)
    wait_for(lambda: not keys[0].exists(), what="the key file to be deleted")
    wait_for(lambda: not _alive(world.phone("wa-cli").pids()[-1]), what="the session to end")
    assert not keys[0].exists()  # not written again by a session still running
