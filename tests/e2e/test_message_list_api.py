"""``GET /messages`` with its filters on a real server, and through the client and the CLI."""

import json
import time
from datetime import timedelta

import httpx
import pytest

from kurir.client import Client
from tests.e2e.contract import accepted_id, assert_error, send, send_text
from tests.e2e.kurir_cli import jakarta_schedule, run_kurir, succeeded
from tests.support.provision import Tenant, add_sandbox_devices, provision_tenant
from tests.support.server import KurirProcess


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [message["message_id"] for message in answer.json()["data"]]


@pytest.fixture
def tenant(shared_server: KurirProcess) -> tuple[Tenant, str, list[str]]:
    """An account of its own with two devices and three messages (newest last in the list)."""
    tenant = provision_tenant(shared_server.database_url)
    (second,) = add_sandbox_devices(
        shared_server.database_url, tenant.account_id, 1, prefix="second"
    )
    with shared_server.client(tenant.api_key) as http:
        sent = [
            accepted_id(send_text(http, tenant.device_id, phone="08111111111")),
            accepted_id(send(http, tenant.device_id, phone="08122222222")),
            accepted_id(
                send_text(
                    http,
                    second,
                    phone="08111111111",
                    schedule=jakarta_schedule(timedelta(hours=1)),
                )
            ),
        ]
    return tenant, second, sent


def test_each_filter_narrows_the_list_newest_first(
    shared_server: KurirProcess, tenant: tuple[Tenant, str, list[str]]
) -> None:
    owner, second, (text, button, scheduled) = tenant
    now = int(time.time())
    with shared_server.client(owner.api_key) as http:

        def listed(**params: str | int) -> list[str]:
            return ids(http.get("/messages", params=params))

        assert listed() == [scheduled, button, text]
        assert listed(device=owner.device_id) == [button, text]
        assert listed(device=second) == [scheduled]
        assert listed(status="scheduled") == [scheduled]
        assert listed(recipient="+62 811-1111-111") == [scheduled, text]
        assert listed(kind="button") == [button]
        assert listed(kind="media") == []
        assert listed(since=now - 600, until=now + 600) == [scheduled, button, text]
        assert listed(until=now - 600) == []
        assert listed(since="2000-01-01T00:00:00+07:00", kind="TEXT") == [scheduled, text]
        assert listed(device=owner.device_id, recipient="08111111111", kind="text") == [text]
        # Empty parameters are no filter, as in a form left blank.
        assert listed(status="", device="") == [scheduled, button, text]

        pages: list[str] = []
        before = None
        while True:
            page = http.get(
                "/messages", params={"limit": 1} | ({"before": before} if before else {})
            )
            pages += ids(page)
            before = page.json()["next_cursor"]
            if before is None:
                break
        assert pages == [scheduled, button, text]


def test_bad_filters_are_named_and_another_accounts_things_are_not_found(
    shared_server: KurirProcess, tenant: tuple[Tenant, str, list[str]]
) -> None:
    owner = tenant[0]
    with shared_server.client(owner.api_key) as http:

        def refused(code: int, message: str, **params: str | int) -> None:
            assert_error(http.get("/messages", params=params), code, message)

        refused(
            422,
            "status must be one of scheduled, queued, sending, sent, delivered, read, "
            "failed, cancelled, got 'gone'",
            status="gone",
        )
        refused(422, "kind must be one of text, media, button, template, got 'video'", kind="video")
        refused(
            422,
            "since must be Unix seconds or an ISO 8601 time (for example "
            "2026-05-04T09:30:00+07:00), got 'yesterday'",
            since="yesterday",
        )
        refused(422, "until must be after since", since=2_000_000_000, until=1_000_000_000)
        refused(422, "recipient is not a valid phone number: '12'", recipient="12")
        refused(
            422,
            "unknown query parameter 'state'; the filters are "
            "device, status, recipient, kind, since, until, broadcast",
            state="x",
        )
        refused(422, "limit must be a whole number from 1 to 500", limit=0)
        assert_error(
            http.get("/messages?status=sent&status=failed"),
            422,
            "status is given more than once",
        )
        # The shared server's own account's device, and a broadcast of nobody's.
        refused(
            404, f"device '{shared_server.device_id}' not found", device=shared_server.device_id
        )
        refused(404, "broadcast 'nope' not found", broadcast="nope")


def test_the_client_and_the_command_line_list_with_filters(
    shared_server: KurirProcess, tenant: tuple[Tenant, str, list[str]]
) -> None:
    owner, second, (text, button, scheduled) = tenant
    with Client(shared_server.base_url, owner.api_key) as client:
        page = client.list_messages(kind="button")
        assert [message.message_id for message in page.data] == [button]
        assert page.data[0].type == "button"
        first = client.list_messages(limit=2)
        assert [message.message_id for message in first.data] == [scheduled, button]
        assert first.next_cursor is not None
        rest = client.list_messages(limit=2, before=first.next_cursor)
        assert [message.message_id for message in rest.data] == [text]
    shown = succeeded(
        run_kurir(
            "messages",
            "list",
            "--device",
            second,
            "--url",
            shared_server.base_url,
            "--api-key",
            owner.api_key,
            database_url=None,
        )
    )
    answer = json.loads(shown)
    assert [message["message_id"] for message in answer["data"]] == [scheduled]
    assert answer["data"][0]["status"] == "scheduled"
