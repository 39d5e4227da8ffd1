"""Idempotency-Key: a retried request is answered as the first, and sends nothing twice."""

import asyncio
import secrets

import httpx
import pytest

from tests.e2e.contract import (
    accepted_id,
    assert_error,
    button_body,
    deliveries_of,
    nothing_stored,
    send,
    stored_message_ids,
    wait_for_status,
)
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"order-{secrets.token_hex(6)}"}


def _send(
    http: httpx.Client, device: str, headers: dict[str, str], **changes: object
) -> httpx.Response:
    return http.post("/send/button", json=button_body(device, **changes), headers=headers)


def test_a_retry_with_the_same_key_and_body_is_answered_as_the_first(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    key = _key()
    before = stored_message_ids(shared_server.database_url)
    first = _send(http, shared_server.device_id, key)
    message_id = accepted_id(first)
    second = _send(http, shared_server.device_id, key)
    assert (second.status_code, second.content) == (200, first.content)
    assert stored_message_ids(shared_server.database_url) - before == {message_id}

    wait_for_status(http, message_id, "delivered")
    # A retry after delivery still sends nothing new.
    third = _send(http, shared_server.device_id, key)
    assert (third.status_code, third.content) == (200, first.content)
    assert stored_message_ids(shared_server.database_url) - before == {message_id}
    assert deliveries_of(http, shared_server.device_id, message_id) == 1


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"message": "Pesan lain"}, id="other message"),
        pytest.param({"phone": "628133333333"}, id="other recipient"),
        pytest.param({"buttons": ["Opsi 1", "Opsi 2"]}, id="other buttons"),
        pytest.param({"schedule": "2020-01-01 00:00:00"}, id="a schedule added"),
    ],
)
def test_the_same_key_with_another_body_is_refused_with_409(
    shared_server: KurirProcess, http: httpx.Client, changes: dict[str, object]
) -> None:
    key = _key()
    message_id = accepted_id(_send(http, shared_server.device_id, key))
    with nothing_stored(shared_server):
        response = _send(http, shared_server.device_id, key, **changes)
    assert_error(
        response,
        409,
        f"Idempotency-Key was already used for a different request (message {message_id})",
    )


async def _send_concurrently(
    server: KurirProcess, headers: dict[str, str], count: int
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": server.api_key},
        limits=limits,
        timeout=10,
    ) as client:
        body = button_body(server.device_id)
        return await asyncio.gather(
            *(client.post("/send/button", json=body, headers=headers) for _ in range(count))
        )


def test_concurrent_duplicates_store_and_send_one_message(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    key = _key()
    before = stored_message_ids(shared_server.database_url)
    responses = asyncio.run(_send_concurrently(shared_server, key, 20))
    ids = {accepted_id(response) for response in responses}
    assert len(ids) == 1
    [message_id] = ids
    assert stored_message_ids(shared_server.database_url) - before == {message_id}
    wait_for_status(http, message_id, "delivered")
    assert deliveries_of(http, shared_server.device_id, message_id) == 1


def test_different_keys_are_different_messages(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    first = accepted_id(_send(http, shared_server.device_id, _key()))
    second = accepted_id(_send(http, shared_server.device_id, _key()))
    assert first != second


def test_a_refused_request_does_not_use_up_its_key(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    key = _key()
    with nothing_stored(shared_server):
        refused = _send(http, shared_server.device_id, key, phone="0811")
    assert_error(refused, 422, "phone is not a valid phone number: '0811'")
    accepted_id(_send(http, shared_server.device_id, key))


def test_keys_belong_to_one_account(shared_server: KurirProcess, http: httpx.Client) -> None:
    other = provision_tenant(shared_server.database_url)
    key = _key()
    mine = accepted_id(_send(http, shared_server.device_id, key))
    with shared_server.client(other.api_key) as theirs:
        response = _send(theirs, other.device_id, key)
    assert accepted_id(response) != mine
    assert response.json()["from"] == other.device_phone


@pytest.mark.parametrize("value", ["", "k" * 256])
def test_an_unusable_key_is_refused(
    shared_server: KurirProcess, http: httpx.Client, value: str
) -> None:
    with nothing_stored(shared_server):
        response = _send(http, shared_server.device_id, {"Idempotency-Key": value})
    assert_error(response, 422, "Idempotency-Key must be 1 to 255 characters")


def test_the_longest_key_is_accepted(shared_server: KurirProcess, http: httpx.Client) -> None:
    key = {"Idempotency-Key": "k" * 255}
    first = accepted_id(_send(http, shared_server.device_id, key))
    assert accepted_id(_send(http, shared_server.device_id, key)) == first
    assert accepted_id(send(http, shared_server.device_id)) != first
