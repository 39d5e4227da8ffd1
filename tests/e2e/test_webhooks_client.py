"""The clients' webhook calls against a real ``kurir serve``, with both clients.

The server has no dispatcher, so registered URLs are never called and the
deliveries written into its database stay as written.
"""

import asyncio
from collections.abc import Callable, Iterator
from typing import Unpack

import pytest
from sqlalchemy import Connection

from kurir import AsyncClient, Client, KurirError
from kurir.api.webhook_types import (
    DeliveryData,
    DeliveryListResponse,
    RedeliveredData,
    WebhookData,
    WebhookDeletedResponse,
    WebhookSecretData,
)
from kurir.client import DeliveryQuery, WebhookChanges
from kurir.clock import now_ms
from kurir.domain.events import DeliveryStatus
from tests.e2e.kurir_cli import sqlite_server
from tests.e2e.webhooks_support import RECEIVER, in_database
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess
from tests.support.webhook_rows import Attempt, add_delivery


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    directory = tmp_path_factory.mktemp("webhooks-client")
    with sqlite_server(directory, args=("--no-dispatch",)) as process:
        yield process


class BlockingAsyncClient:
    """A real AsyncClient, each webhook call run to completion on a private event loop."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = AsyncClient(base_url, api_key)

    def create_webhook(
        self, url: str, events: list[str], devices: list[str] | None = None
    ) -> WebhookSecretData:
        return self._loop.run_until_complete(self._client.create_webhook(url, events, devices))

    def list_webhooks(self) -> list[WebhookData]:
        return self._loop.run_until_complete(self._client.list_webhooks())

    def get_webhook(self, webhook_id: str) -> WebhookData:
        return self._loop.run_until_complete(self._client.get_webhook(webhook_id))

    def update_webhook(self, webhook_id: str, **changes: Unpack[WebhookChanges]) -> WebhookData:
        return self._loop.run_until_complete(self._client.update_webhook(webhook_id, **changes))

    def delete_webhook(self, webhook_id: str) -> WebhookDeletedResponse:
        return self._loop.run_until_complete(self._client.delete_webhook(webhook_id))

    def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecretData:
        return self._loop.run_until_complete(self._client.rotate_webhook_secret(webhook_id))

    def list_webhook_deliveries(
        self, webhook_id: str, **query: Unpack[DeliveryQuery]
    ) -> DeliveryListResponse:
        return self._loop.run_until_complete(
            self._client.list_webhook_deliveries(webhook_id, **query)
        )

    def get_webhook_delivery(self, webhook_id: str, delivery_id: str) -> DeliveryData:
        return self._loop.run_until_complete(
            self._client.get_webhook_delivery(webhook_id, delivery_id)
        )

    def redeliver_webhook(
        self, webhook_id: str, *, delivery: str | None = None, since: str | int | None = None
    ) -> RedeliveredData:
        return self._loop.run_until_complete(
            self._client.redeliver_webhook(webhook_id, delivery=delivery, since=since)
        )

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


KurirApi = Client | BlockingAsyncClient


@pytest.fixture(params=["Client", "AsyncClient"])
def connect(request: pytest.FixtureRequest) -> Iterator[Callable[[str, str], KurirApi]]:
    opened: list[KurirApi] = []

    def open_client(base_url: str, api_key: str) -> KurirApi:
        kind = Client if request.param == "Client" else BlockingAsyncClient
        client = kind(base_url, api_key)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture
def tenant(server: KurirProcess) -> Tenant:
    return provision_tenant(server.database_url)


def test_a_webhook_through_its_life_with_typed_answers(
    server: KurirProcess, tenant: Tenant, connect: Callable[[str, str], KurirApi]
) -> None:
    kurir = connect(server.base_url, tenant.api_key)
    created = kurir.create_webhook(RECEIVER, ["message.status"], [tenant.device_id])
    assert isinstance(created, WebhookSecretData)
    assert created.secret.startswith("whsec_")
    assert (created.devices, created.enabled) == ([tenant.device_id], True)
    assert kurir.list_webhooks() == [kurir.get_webhook(created.id)]
    # devices=None is "every device", as absent is "unchanged".
    everywhere = kurir.update_webhook(created.id, devices=None, enabled=False)
    assert (everywhere.devices, everywhere.enabled, everywhere.events) == (
        None,
        False,
        ["message.status"],
    )
    kurir.update_webhook(created.id, enabled=True)
    rotated = kurir.rotate_webhook_secret(created.id)
    assert rotated.secret != created.secret
    assert rotated.previous_secret_expires_at is not None

    now = now_ms()

    def add(connection: Connection) -> str:
        return add_delivery(
            connection,
            endpoint_public_id=created.id,
            device_public_id=tenant.device_id,
            event_at=now,
            status=DeliveryStatus.DEAD,
            attempts=(Attempt(now + 5, 410, response="Gone"),),
        )

    delivery = in_database(server.database_url, add)
    log = kurir.list_webhook_deliveries(created.id, status="dead", limit=5)
    assert [d.id for d in log.data] == [delivery]
    assert log.next_cursor is None
    one = kurir.get_webhook_delivery(created.id, delivery)
    assert (one.status, one.attempts[0].status_code, one.attempts[0].response) == (
        "dead",
        410,
        "Gone",
    )
    assert kurir.redeliver_webhook(created.id, delivery=delivery) == RedeliveredData(redelivered=1)
    assert kurir.redeliver_webhook(created.id, since=0) == RedeliveredData(redelivered=0)
    assert kurir.delete_webhook(created.id) == WebhookDeletedResponse(id=created.id)
    with pytest.raises(KurirError) as caught:
        kurir.get_webhook(created.id)
    assert (caught.value.status_code, caught.value.message) == (
        404,
        f"webhook {created.id!r} not found",
    )


def test_an_id_holding_path_syntax_reaches_no_other_endpoint(
    server: KurirProcess, tenant: Tenant, connect: Callable[[str, str], KurirApi]
) -> None:
    kurir = connect(server.base_url, tenant.api_key)
    created = kurir.create_webhook(RECEIVER, ["message.status"])
    # Quoted as one segment: "wh_…/.." does not become the endpoint, nor "wh_…/rotate-secret"
    # a rotation (the server answers it as that path, which takes no DELETE).
    for webhook_id in ("..", f"{created.id}/..", f"{created.id}/rotate-secret", "../webhooks"):
        with pytest.raises(KurirError) as caught:
            kurir.delete_webhook(webhook_id)
        assert caught.value.status_code in (404, 405), webhook_id
    with pytest.raises(KurirError) as caught:
        kurir.get_webhook_delivery(created.id, "../../webhooks")
    assert caught.value.status_code == 404
    assert kurir.list_webhooks() == [kurir.get_webhook(created.id)]
    assert kurir.get_webhook(created.id).secret_hint == created.secret_hint
