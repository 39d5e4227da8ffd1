"""One account cannot see or use another's devices or messages, nor learn that they exist.

Every answer to the other account is compared with the answer about something
that does not exist at all: they must be the same.
"""

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from kurir.domain.ids import new_message_id
from kurir.store import Store, accounts
from tests.e2e.contract import (
    JAKARTA,
    RECIPIENT,
    accepted_id,
    assert_error,
    get_message,
    local_time,
    media_body,
    nothing_stored,
    send,
    text_body,
    wait_for_status,
)
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess


@pytest.fixture
def intruder(shared_server: KurirProcess) -> Tenant:
    """A second account on the same server, with a key and a device of its own."""
    return provision_tenant(shared_server.database_url)


@pytest.fixture
def intruder_http(shared_server: KurirProcess, intruder: Tenant) -> Iterator[httpx.Client]:
    with shared_server.client(intruder.api_key) as client:
        yield client


def _device_not_found(device: str) -> str:
    return f"device {device!r} not found"


def test_another_accounts_device_cannot_send(
    shared_server: KurirProcess, intruder_http: httpx.Client
) -> None:
    with nothing_stored(shared_server):
        theirs = send(intruder_http, shared_server.device_id)
        unknown = send(intruder_http, "dev-unknown")
    assert_error(theirs, 404, _device_not_found(shared_server.device_id))
    assert_error(unknown, 404, _device_not_found("dev-unknown"))


def test_another_accounts_message_cannot_be_read_or_cancelled(
    shared_server: KurirProcess, http: httpx.Client, intruder_http: httpx.Client
) -> None:
    later = local_time(datetime.now(JAKARTA) + timedelta(hours=1))
    message_id = accepted_id(send(http, shared_server.device_id, schedule=later))
    unknown = new_message_id()
    for method in ("GET", "DELETE"):
        assert_error(
            intruder_http.request(method, f"/message/{message_id}"),
            404,
            f"message {message_id} not found",
        )
        assert_error(
            intruder_http.request(method, f"/message/{unknown}"),
            404,
            f"message {unknown} not found",
        )
    # The owner's message is untouched by the attempt to cancel it.
    assert get_message(http, message_id)["status"] == "scheduled"


def test_each_account_lists_only_its_own_devices(
    shared_server: KurirProcess, http: httpx.Client, intruder: Tenant, intruder_http: httpx.Client
) -> None:
    theirs = intruder_http.get("/device/list").json()["data"]
    assert [device["device"] for device in theirs] == [intruder.device_id]
    assert theirs[0]["phone"] == intruder.device_phone
    mine = http.get("/device/list").json()["data"]
    assert [device["device"] for device in mine] == [shared_server.device_id]


def test_another_accounts_sandbox_cannot_be_read_or_answered(
    shared_server: KurirProcess, http: httpx.Client, intruder_http: httpx.Client
) -> None:
    message_id = accepted_id(send(http, shared_server.device_id))
    wait_for_status(http, message_id, "delivered")
    reply = {"phone": RECIPIENT, "button": 1}
    for device in (shared_server.device_id, "dev-unknown"):
        assert_error(
            intruder_http.post(f"/sandbox/{device}/reply", json=reply),
            404,
            _device_not_found(device),
        )
        assert_error(
            intruder_http.get(f"/sandbox/{device}/messages"), 404, _device_not_found(device)
        )
    data = get_message(http, message_id)
    assert (data["status"], data["reply"]) == ("delivered", None)


def test_the_owner_cannot_reach_the_other_accounts_things_either(
    http: httpx.Client, intruder: Tenant, intruder_http: httpx.Client
) -> None:
    their_message = accepted_id(send(intruder_http, intruder.device_id))
    assert_error(http.get(f"/message/{their_message}"), 404, f"message {their_message} not found")
    assert_error(send(http, intruder.device_id), 404, _device_not_found(intruder.device_id))
    assert get_message(intruder_http, their_message)["from"] == intruder.device_phone


async def _revoke_all_keys(database_url: str, account_id: int) -> None:
    store = Store(database_url, pool_size=1)
    try:
        for key in await store.read(accounts.list_api_keys, account_id=account_id):
            await store.write(accounts.revoke_api_key, account_id=account_id, key_id=key.id, now=1)
    finally:
        await store.close()


def test_a_revoked_key_is_refused(shared_server: KurirProcess, intruder: Tenant) -> None:
    """Revoked before its first use, so no cached verdict (kept up to 2 s) is involved."""
    asyncio.run(_revoke_all_keys(shared_server.database_url, intruder.account_id))
    with shared_server.client(intruder.api_key) as revoked, nothing_stored(shared_server):
        assert_error(send(revoked, intruder.device_id), 401, "Unauthorized")
        assert_error(revoked.get("/device/list"), 401, "Unauthorized")


# -- text and media, and what recipients send -----------------------------------------------------

_BODIES = {"/send/text": text_body, "/send/media": media_body}


@pytest.mark.parametrize("path", list(_BODIES))
def test_another_accounts_device_cannot_send_text_or_media(
    shared_server: KurirProcess,
    intruder: Tenant,
    http: httpx.Client,
    intruder_http: httpx.Client,
    path: str,
) -> None:
    build = _BODIES[path]
    with nothing_stored(shared_server):
        theirs = intruder_http.post(path, json=build(shared_server.device_id))
        unknown = intruder_http.post(path, json=build("dev-unknown"))
        mine = http.post(path, json=build(intruder.device_id))
    assert_error(theirs, 404, _device_not_found(shared_server.device_id))
    assert_error(unknown, 404, _device_not_found("dev-unknown"))
    assert_error(mine, 404, _device_not_found(intruder.device_id))


@pytest.mark.parametrize("path", list(_BODIES))
def test_another_accounts_text_or_media_message_cannot_be_read_or_cancelled(
    shared_server: KurirProcess, http: httpx.Client, intruder_http: httpx.Client, path: str
) -> None:
    later = local_time(datetime.now(JAKARTA) + timedelta(hours=1))
    body = _BODIES[path](shared_server.device_id, schedule=later)
    message_id = accepted_id(http.post(path, json=body))
    for method in ("GET", "DELETE"):
        assert_error(
            intruder_http.request(method, f"/message/{message_id}"),
            404,
            f"message {message_id} not found",
        )
    assert get_message(http, message_id)["status"] == "scheduled"
    assert http.delete(f"/message/{message_id}").status_code == 200


def test_another_accounts_inbound_messages_and_text_replies_are_out_of_reach(
    shared_server: KurirProcess, http: httpx.Client, intruder: Tenant, intruder_http: httpx.Client
) -> None:
    secret = f"Pesan rahasia {new_message_id()}"
    answer = http.post(
        f"/sandbox/{shared_server.device_id}/reply", json={"phone": RECIPIENT, "text": secret}
    )
    assert answer.json() == {"status": "ok", "message": "Message received"}
    # The intruder's own list is empty; the owner's device cannot even be named in it.
    assert intruder_http.get("/messages/inbound").json() == {
        "status": "ok",
        "data": [],
        "next_cursor": None,
    }
    for device in (shared_server.device_id, "dev-unknown"):
        assert_error(
            intruder_http.get("/messages/inbound", params={"device": device}),
            404,
            _device_not_found(device),
        )
        # Nor can it play a recipient writing to the owner's device.
        assert_error(
            intruder_http.post(
                f"/sandbox/{device}/reply", json={"phone": RECIPIENT, "text": "Bukan saya"}
            ),
            404,
            _device_not_found(device),
        )
    texts = [item["text"] for item in http.get("/messages/inbound").json()["data"]]
    assert secret in texts
    assert "Bukan saya" not in texts
    # And the owner cannot name the intruder's device either.
    assert_error(
        http.get("/messages/inbound", params={"device": intruder.device_id}),
        404,
        _device_not_found(intruder.device_id),
    )
