"""Webhook endpoints through a real ``kurir serve``: their life, their secret, their rules.

The server runs without a dispatcher (`api_only_server`): nothing is delivered,
so the endpoints registered here may name any URL. Each test works on accounts
of its own.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kurir.domain.endpoints import MAX_ENDPOINTS, MAX_URL_LENGTH
from kurir.domain.events import EVENTS
from tests.e2e.webhooks_support import RECEIVER, create, error, stored_endpoints
from tests.support.databases import sqlite_url
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess

_VIEW_FIELDS = [
    "id",
    "url",
    "events",
    "devices",
    "enabled",
    "disabled_reason",
    "failing_since",
    "secret_hint",
    "previous_secret_expires_at",
    "pending_deliveries",
    "dead_deliveries",
    "created_at",
    "updated_at",
]


@pytest.fixture
def tenant(api_only_server: KurirProcess) -> Tenant:
    return provision_tenant(api_only_server.database_url)


@pytest.fixture
def http(api_only_server: KurirProcess, tenant: Tenant) -> Iterator[httpx.Client]:
    with api_only_server.client(tenant.api_key) as client:
        yield client


def test_an_endpoint_through_its_life(http: httpx.Client, tenant: Tenant) -> None:
    created = create(http, events=["message.status", "device.state"], devices=[tenant.device_id])
    assert list(created) == [*_VIEW_FIELDS, "secret"]
    webhook_id = created["id"]
    assert webhook_id.startswith("wh_")
    assert (created["url"], created["events"], created["devices"], created["enabled"]) == (
        RECEIVER,
        ["message.status", "device.state"],
        [tenant.device_id],
        True,
    )
    assert (created["pending_deliveries"], created["dead_deliveries"]) == (0, 0)
    shown = {name: value for name, value in created.items() if name != "secret"}
    assert http.get(f"/webhooks/{webhook_id}").json() == {"status": "ok", "data": shown}
    assert http.get("/webhooks").json() == {"status": "ok", "data": [shown]}

    changed = http.patch(
        f"/webhooks/{webhook_id}",
        json={"url": "https://other.example.com/in", "events": list(EVENTS), "devices": None},
    ).json()["data"]
    assert (changed["url"], changed["events"], changed["devices"]) == (
        "https://other.example.com/in",
        list(EVENTS),
        None,
    )
    assert changed["updated_at"] >= changed["created_at"]
    paused = http.patch(f"/webhooks/{webhook_id}", json={"enabled": False}).json()["data"]
    assert (paused["enabled"], paused["disabled_reason"], paused["url"]) == (
        False,
        None,
        "https://other.example.com/in",
    )
    assert http.get(f"/webhooks/{webhook_id}").json()["data"]["enabled"] is False
    resumed = http.patch(f"/webhooks/{webhook_id}", json={"enabled": True}).json()["data"]
    assert resumed["enabled"] is True

    deleted = http.delete(f"/webhooks/{webhook_id}")
    assert deleted.json() == {"status": "ok", "id": webhook_id, "message": "Deleted"}
    error(http.get(f"/webhooks/{webhook_id}"), 404, f"webhook {webhook_id!r} not found")
    error(http.delete(f"/webhooks/{webhook_id}"), 404, f"webhook {webhook_id!r} not found")
    assert http.get("/webhooks").json() == {"status": "ok", "data": []}


def test_the_secret_is_shown_on_creation_and_rotation_only(
    http: httpx.Client, api_only_server: KurirProcess, tenant: Tenant
) -> None:
    created = create(http)
    secret, webhook_id = created["secret"], created["id"]
    assert secret.startswith("whsec_")
    assert created["secret_hint"] == secret[:10] + "…"
    reads = [
        http.get("/webhooks"),
        http.get(f"/webhooks/{webhook_id}"),
        http.patch(f"/webhooks/{webhook_id}", json={"enabled": True}),
    ]
    for response in reads:
        assert response.status_code == 200
        assert secret not in response.text
        assert secret[10:20] not in response.text
    rotated = http.post(f"/webhooks/{webhook_id}/rotate-secret").json()["data"]
    new_secret = rotated["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != secret
    assert rotated["secret_hint"] == new_secret[:10] + "…"
    # The replaced secret signs beside the new one for a day.
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    updated = datetime.fromisoformat(rotated["updated_at"])
    assert expires - updated == timedelta(hours=24)
    (row,) = stored_endpoints(api_only_server.database_url, tenant.account_id)
    assert (row.secret, row.previous_secret) == (new_secret, secret)
    after = http.get(f"/webhooks/{webhook_id}")
    assert (
        after.json()["data"]["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    )
    assert secret not in after.text
    assert new_secret not in after.text


def test_a_form_registers_and_changes_an_endpoint_as_json_does(
    http: httpx.Client, tenant: Tenant
) -> None:
    response = http.post(
        "/webhooks",
        data={"url": RECEIVER, "events[]": ["message.status", "message.reply"]},
    )
    assert response.status_code == 200, response.text
    created = response.json()["data"]
    assert created["events"] == ["message.status", "message.reply"]
    assert created["devices"] is None
    changed = http.patch(
        f"/webhooks/{created['id']}",
        files={"enabled": (None, "false"), "devices": (None, tenant.device_id)},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["data"]["enabled"], changed.json()["data"]["devices"]) == (
        False,
        [tenant.device_id],
    )
    lone = http.post("/webhooks", data={"url": RECEIVER, "events": "device.state"})
    assert lone.json()["data"]["events"] == ["device.state"]


def _refusals(other_device: str) -> list[tuple[dict[str, object], str]]:
    long_url = "https://receiver.example.com/" + "a" * MAX_URL_LENGTH
    return [
        ({"url": "ftp://receiver.example.com/"}, "url: scheme must be http or https, not 'ftp'"),
        (
            {"url": "receiver.example.com/in"},
            "url: must be an absolute URL starting with http:// or https://",
        ),
        (
            {"url": "http://127.0.0.1:8080/in"},
            "url: 127.0.0.1 is a loopback address, which Kurir does not connect to",
        ),
        (
            {"url": "http://localhost/in"},
            "url: localhost is a loopback address, which Kurir does not connect to",
        ),
        (
            {"url": "http://10.1.2.3/in"},
            "url: 10.1.2.3 is a private address, which Kurir does not connect to",
        ),
        (
            {"url": "http://169.254.169.254/latest/meta-data/"},
            "url: 169.254.169.254 is a cloud metadata address, which Kurir does not connect to",
        ),
        (
            {"url": "http://[fe80::1]/in"},
            "url: fe80::1 is a link-local address, which Kurir does not connect to",
        ),
        ({"url": long_url}, f"url is {len(long_url)} characters; at most 2048 are allowed"),
        ({"url": None}, "url is required"),
        ({"events": []}, "events must name at least one event: " + ", ".join(EVENTS)),
        (
            {"events": ["message.status", "message.sent"]},
            "events[1]: 'message.sent' is not an event; use " + ", ".join(EVENTS),
        ),
        ({"events": ["device.state", "device.state"]}, "events[1] repeats 'device.state'"),
        ({"events": "message.status"}, "events must be an array of event names"),
        ({"events": [1]}, "events[0] must be a string"),
        ({"devices": []}, "devices must name at least one device, or be null for all devices"),
        ({"devices": ["dev-unknown"]}, "devices[0]: device 'dev-unknown' not found"),
        ({"devices": [other_device]}, f"devices[0]: device {other_device!r} not found"),
        (
            {"devices": ["dev/x"]},
            "devices[0] must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got 'dev/x'",
        ),
        ({"devices": "dev-x"}, "devices must be an array of device ids, or null for all devices"),
    ]


def test_every_bad_field_is_refused_naming_it_and_nothing_is_stored(
    http: httpx.Client, api_only_server: KurirProcess, tenant: Tenant
) -> None:
    other = provision_tenant(api_only_server.database_url)
    existing = create(http)
    for changes, message in _refusals(other.device_id):
        body = {"url": RECEIVER, "events": ["message.status"], **changes}
        error(http.post("/webhooks", json=body), 422, message)
        if "url" in changes and changes["url"] is None:
            continue  # a change may leave out the URL; null is then refused as a wrong type
        error(http.patch(f"/webhooks/{existing['id']}", json=changes), 422, message)
    error(
        http.patch(f"/webhooks/{existing['id']}", json={"url": None}), 422, "url must be a string"
    )
    error(
        http.patch(f"/webhooks/{existing['id']}", json={"enabled": "no"}),
        422,
        "enabled must be true or false",
    )
    error(
        http.patch(f"/webhooks/{existing['id']}", json={}),
        422,
        "give at least one of url, events, devices and enabled",
    )
    rows = stored_endpoints(api_only_server.database_url, tenant.account_id)
    assert [row.public_id for row in rows] == [existing["id"]]
    shown = {name: value for name, value in existing.items() if name != "secret"}
    assert http.get(f"/webhooks/{existing['id']}").json()["data"] == shown


def test_an_account_has_at_most_its_cap_of_endpoints(
    http: httpx.Client, api_only_server: KurirProcess, tenant: Tenant
) -> None:
    for _ in range(MAX_ENDPOINTS):
        create(http)
    response = http.post("/webhooks", json={"url": RECEIVER, "events": ["message.status"]})
    error(
        response,
        409,
        f"an account may have at most {MAX_ENDPOINTS} webhook endpoints; delete one to add another",
    )
    assert len(stored_endpoints(api_only_server.database_url, tenant.account_id)) == MAX_ENDPOINTS
    # Deleting one makes room for one.
    first = http.get("/webhooks").json()["data"][0]["id"]
    assert http.delete(f"/webhooks/{first}").status_code == 200
    create(http)


def test_a_private_url_is_accepted_where_the_server_allows_private_urls(
    tmp_path: Path,
) -> None:
    process = KurirProcess(
        sqlite_url(tmp_path),
        tmp_path,
        env={"KURIR_ALLOW_PRIVATE_URLS": "true"},
        args=("--no-dispatch",),
    ).start()
    try:
        with process.client() as http:
            created = create(http, url="http://127.0.0.1:9/kurir")
            assert created["url"] == "http://127.0.0.1:9/kurir"
            # The scheme is still checked.
            response = http.post(
                "/webhooks", json={"url": "file:///etc/passwd", "events": ["message.status"]}
            )
            error(response, 422, "url: scheme must be http or https, not 'file'")
    finally:
        process.stop()
