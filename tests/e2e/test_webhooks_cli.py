"""``kurir webhooks …`` run as a user runs it, against a real ``kurir serve``.

The server has no dispatcher: the endpoints registered are never called, and
the deliveries written into its database stay as written.
"""

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.domain.events import DeliveryStatus
from tests.e2e.kurir_cli import (
    api_env,
    assert_all_refused,
    run_kurir,
    run_kurir_all,
    sqlite_server,
    succeeded,
)
from tests.e2e.webhooks_support import RECEIVER, in_database
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess
from tests.support.webhook_rows import Attempt, add_delivery


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    directory = tmp_path_factory.mktemp("webhooks-cli")
    with sqlite_server(directory, args=("--no-dispatch",)) as process:
        yield process


@pytest.fixture
def tenant(server: KurirProcess) -> Tenant:
    return provision_tenant(server.database_url)


def test_an_endpoint_through_its_life_on_the_command_line(
    server: KurirProcess, tenant: Tenant
) -> None:
    env = api_env(server, tenant.api_key)
    added = run_kurir(
        "webhooks", "add", RECEIVER, "--event", "message.status", "--event", "message.reply",
        "--device", tenant.device_id,
        database_url=None, env=env,
    )  # fmt: skip
    created = json.loads(succeeded(added))
    assert "kurir: the secret is shown this once; store it now" in added.stderr
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["devices"]) == (
        RECEIVER,
        ["message.status", "message.reply"],
        [tenant.device_id],
    )
    webhook = created["id"]
    listed, shown, paused = run_kurir_all(
        [
            ["webhooks", "list"],
            ["webhooks", "show", webhook],
            ["webhooks", "update", webhook, "--disable", "--webhook-url", RECEIVER + "/v2"],
        ],
        database_url=None,
        env=env,
    )
    assert [w["id"] for w in json.loads(succeeded(listed))] == [webhook]
    assert created["secret"] not in listed.stdout + shown.stdout + paused.stdout
    assert json.loads(succeeded(shown))["id"] == webhook
    paused_data = json.loads(succeeded(paused))
    assert (paused_data["enabled"], paused_data["url"]) == (False, RECEIVER + "/v2")
    resumed = run_kurir(
        "webhooks", "update", webhook, "--enable", "--all-devices", "--event", "device.state",
        database_url=None, env=env,
    )  # fmt: skip
    resumed_data = json.loads(succeeded(resumed))
    assert (resumed_data["enabled"], resumed_data["devices"], resumed_data["events"]) == (
        True,
        None,
        ["device.state"],
    )
    rotated = run_kurir("webhooks", "rotate-secret", webhook, database_url=None, env=env)
    new_secret = json.loads(succeeded(rotated))["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != created["secret"]
    assert "shown this once" in rotated.stderr
    removed = run_kurir("webhooks", "remove", webhook, database_url=None, env=env)
    assert json.loads(succeeded(removed)) == {"status": "ok", "id": webhook, "message": "Deleted"}
    assert_all_refused(
        [(["webhooks", "show", webhook], 1, f"HTTP 404: webhook {webhook!r} not found")],
        database_url=None,
        env=env,
    )


def test_the_delivery_log_and_redelivery_on_the_command_line(
    server: KurirProcess, tenant: Tenant
) -> None:
    env = api_env(server, tenant.api_key)
    added = run_kurir(
        "webhooks", "add", RECEIVER, "--event", "message.status", database_url=None, env=env
    )
    webhook = json.loads(succeeded(added))["id"]
    now = now_ms()

    def add(connection: Connection) -> list[str]:
        return [
            add_delivery(
                connection,
                endpoint_public_id=webhook,
                device_public_id=tenant.device_id,
                event_at=now - age,
                status=status,
                attempts=(Attempt(now - age + 10, 502, response="Bad Gateway"),),
            )
            for age, status in ((3000, DeliveryStatus.DEAD), (2000, DeliveryStatus.DEAD))
        ]

    older, newer = in_database(server.database_url, add)
    log, one, dead = run_kurir_all(
        [
            ["webhooks", "deliveries", webhook, "--limit", "1"],
            ["webhooks", "deliveries", webhook, older],
            ["webhooks", "deliveries", webhook, "--status", "dead"],
        ],
        database_url=None,
        env=env,
    )
    page = json.loads(succeeded(log))
    assert [d["id"] for d in page["data"]] == [newer]
    assert page["next_cursor"] is not None
    shown = json.loads(succeeded(one))
    assert (shown["id"], shown["status"], shown["attempts"][0]["status_code"]) == (
        older,
        "dead",
        502,
    )
    assert [d["id"] for d in json.loads(succeeded(dead))["data"]] == [newer, older]
    next_page = run_kurir(
        "webhooks", "deliveries", webhook, "--before", page["next_cursor"],
        database_url=None, env=env,
    )  # fmt: skip
    assert [d["id"] for d in json.loads(succeeded(next_page))["data"]] == [older]
    by_id = run_kurir(
        "webhooks", "redeliver", webhook, "--delivery", older, database_url=None, env=env
    )
    assert json.loads(succeeded(by_id)) == {"redelivered": 1}
    since = run_kurir(
        "webhooks", "redeliver", webhook, "--since", str((now - 5000) // 1000),
        database_url=None, env=env,
    )  # fmt: skip
    assert json.loads(succeeded(since)) == {"redelivered": 1}


def test_refusals_on_the_command_line_say_why(server: KurirProcess, tenant: Tenant) -> None:
    env = api_env(server, tenant.api_key)
    loopback = "url: 127.0.0.1 is a loopback address, which Kurir does not connect to"
    assert_all_refused(
        [
            (
                ["webhooks", "add", "http://127.0.0.1/in", "--event", "message.status"],
                1,
                f"HTTP 422: {loopback}",
            ),
            (
                ["webhooks", "add", RECEIVER, "--event", "message.status", "--device", "dev-x"],
                1,
                "HTTP 422: devices[0]: device 'dev-x' not found",
            ),
            (["webhooks", "show", "wh_missing"], 1, "HTTP 404: webhook 'wh_missing' not found"),
            (
                ["webhooks", "update", "wh_missing", "--enable"],
                1,
                "HTTP 404: webhook 'wh_missing' not found",
            ),
            (
                ["webhooks", "redeliver", "wh_missing", "--since", "0"],
                1,
                "HTTP 404: webhook 'wh_missing' not found",
            ),
            (
                ["webhooks", "list", "--api-key", ""],
                2,
                "an API key is needed: --api-key or KURIR_API_KEY",
            ),
            (
                ["webhooks", "update", "wh_missing"],
                1,
                "HTTP 422: give at least one of url, events, devices and enabled",
            ),
        ],
        database_url=None,
        env=env,
    )
    # Which deliveries to send again is required, one way or the other.
    missing = run_kurir("webhooks", "redeliver", "wh_x", database_url=None, env=env)
    assert missing.returncode == 2
    assert "one of the arguments --delivery --since is required" in missing.stderr
    assert succeeded(run_kurir("webhooks", "list", database_url=None, env=env)) == "[]\n"
