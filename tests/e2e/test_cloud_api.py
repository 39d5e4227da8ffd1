"""A device on WhatsApp's Cloud API, end to end: a real ``kurir serve`` and the Graph stand-in.

The device is added with the CLI (which checks its credentials with the
stand-in), messages go out through the worker, and the stand-in posts
signed webhooks back to the server, as Meta does: statuses move messages
forward, a button press becomes the message's reply, a text is listed as
inbound. Forged, replayed and foreign webhooks change nothing.
"""

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cloud_device import (
    CLOUD,
    RECIPIENT,
    add_cloud_device,
    message,
    send_buttons,
    status_becomes,
    wamid_of,
    webhook_url,
)
from tests.e2e.kurir_cli import run_kurir, succeeded
from tests.support.cloud import VERIFY_TOKEN, cloud_config
from tests.support.databases import sqlite_url
from tests.support.gateway import running, wait_for
from tests.support.graph_data import DEFAULT_PHONE_NUMBER, PhoneNumber
from tests.support.graph_standin import GraphStandin
from tests.support.graph_webhooks import Signing
from tests.support.server import KurirProcess


@pytest.fixture
def cloud(database_url: str, tmp_path: Path) -> Iterator[tuple[KurirProcess, GraphStandin]]:
    """A server on each kind of database, with a cloud device pointing at a stand-in."""
    with GraphStandin() as graph, running(database_url, tmp_path) as server:
        add_cloud_device(server, graph, tmp_path)
        graph.webhooks.url = webhook_url(server)
        yield server, graph


def test_a_button_message_goes_out_and_meta_statuses_and_reply_come_back(
    cloud: tuple[KurirProcess, GraphStandin],
) -> None:
    server, graph = cloud
    with server.client() as http:
        message_id = send_buttons(http)
        wamid = wamid_of(graph, message_id)
        sent = status_becomes(http, message_id, "sent")
        assert sent["last_error"] is None

        for status in ("sent", "delivered"):
            assert graph.webhooks.deliver(graph.status(wamid, status)).status == 200
        status_becomes(http, message_id, "delivered")
        # Out of order: a late "delivered" after "read" moves nothing back.
        assert graph.webhooks.deliver(graph.status(wamid, "read")).status == 200
        assert graph.webhooks.deliver(graph.status(wamid, "delivered")).status == 200
        status_becomes(http, message_id, "read")

        pressed = graph.webhooks.deliver(graph.button_reply(wamid, f"{message_id}:2"))
        assert pressed.status == 200

        def replied() -> dict[str, Any] | None:
            reply: dict[str, Any] | None = message(http, message_id)["reply"]
            return reply

        reply = wait_for(replied, timeout=10, what="the reply to be recorded")
        assert (reply["button"], reply["index"]) == ("Opsi 2", 2)
        assert message(http, message_id)["status"] == "read"

        assert graph.webhooks.deliver(graph.text_from(RECIPIENT, "Kapan sampai?")).status == 200
        inbound = http.get("/messages/inbound", params={"device": CLOUD}).json()["data"]
        assert [(m["from"], m["type"], m["text"], m["sender_name"]) for m in inbound] == [
            (RECIPIENT, "text", "Kapan sampai?", "Budi")
        ]


def test_a_list_reply_is_the_reply_of_its_message(tmp_path: Path) -> None:
    with GraphStandin() as graph, running(sqlite_url(tmp_path), tmp_path) as server:
        add_cloud_device(server, graph, tmp_path)
        graph.webhooks.url = webhook_url(server)
        with server.client() as http:
            message_id = send_buttons(http, count=7)
            wamid = wamid_of(graph, message_id)
            payload = graph.message(wamid).payload
            assert payload["interactive"]["type"] == "list"
            status_becomes(http, message_id, "sent")
            assert graph.webhooks.deliver(graph.list_reply(wamid, f"{message_id}:7")).status == 200
            reply = wait_for(
                lambda: message(http, message_id)["reply"], timeout=10, what="the list reply"
            )
            assert (reply["button"], reply["index"]) == ("Opsi 7", 7)


def test_a_failed_status_fails_the_message_with_metas_reason(tmp_path: Path) -> None:
    with GraphStandin() as graph, running(sqlite_url(tmp_path), tmp_path) as server:
        add_cloud_device(server, graph, tmp_path)
        graph.webhooks.url = webhook_url(server)
        with server.client() as http:
            message_id = send_buttons(http)
            wamid = wamid_of(graph, message_id)
            status_becomes(http, message_id, "sent")
            failed = graph.status(wamid, "failed", error_code=131047)
            assert graph.webhooks.deliver(failed).status == 200
            data = status_becomes(http, message_id, "failed")
            assert "template" in data["last_error"]
            assert "131047" in data["last_error"]
            # A failed message stays failed, whatever comes after.
            graph.webhooks.deliver(graph.status(wamid, "delivered"))
            assert message(http, message_id)["status"] == "failed"


def test_forged_replayed_and_foreign_webhooks_change_nothing(tmp_path: Path) -> None:
    other_number = PhoneNumber(
        id="106540352242999",
        display_phone_number="+62 812-3333-333",
        verified_name="Lain",
        quality_rating="GREEN",
    )
    with (
        GraphStandin() as graph,
        GraphStandin(app_secret="another-app-secret", phone=other_number) as other,
        running(sqlite_url(tmp_path), tmp_path) as server,
    ):
        add_cloud_device(server, graph, tmp_path)
        add_cloud_device(server, other, tmp_path, device="dev-other")
        graph.webhooks.url = webhook_url(server)
        with server.client() as http:
            message_id = send_buttons(http)
            wamid = wamid_of(graph, message_id)
            status_becomes(http, message_id, "sent")

            read = graph.status(wamid, "read")
            signings: tuple[Signing, ...] = ("forged", "missing")
            for signing in signings:
                refused = graph.webhooks.deliver(read, signing=signing)
                assert refused.status == 403, refused.response
                assert "X-Hub-Signature-256" in refused.response
            # Signed with the other device's secret, or posted to the other device's URL.
            assert other.webhooks.deliver(read, url=webhook_url(server)).status == 403
            assert graph.webhooks.deliver(read, url=webhook_url(server, "dev-other")).status == 403
            # Rightly signed for the other device, naming its number, about this device's
            # message (by Meta's id and by Kurir's): not the other device's to move.
            foreign = copy.deepcopy(read)
            foreign["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = (
                other_number.id
            )
            assert (
                other.webhooks.deliver(foreign, url=webhook_url(server, "dev-other")).status == 200
            )
            # This device's URL, rightly signed, but about the other number: left out.
            assert graph.webhooks.deliver(foreign).status == 200
            assert message(http, message_id)["status"] == "sent"

            # A text delivered, then the same bytes again (Meta's retry): listed once.
            text = graph.webhooks.deliver(graph.text_from(RECIPIENT, "Halo"))
            assert graph.webhooks.replay(text).status == 200
            inbound = http.get("/messages/inbound", params={"device": CLOUD}).json()["data"]
            assert [m["text"] for m in inbound] == ["Halo"]
            assert http.get(f"/webhooks/cloud/{CLOUD}").status_code == 403


def test_the_verification_handshake_echoes_the_challenge_for_the_right_token(
    tmp_path: Path,
) -> None:
    with GraphStandin() as graph, running(sqlite_url(tmp_path), tmp_path) as server:
        add_cloud_device(server, graph, tmp_path)
        url = webhook_url(server)
        answer = graph.webhooks.verify_subscription(VERIFY_TOKEN, url=url, challenge="1158201444")
        assert (answer.status_code, answer.text) == (200, "1158201444")
        assert answer.headers["content-type"].startswith("text/plain")
        wrong = graph.webhooks.verify_subscription("not-the-token", url=url)
        assert wrong.status_code == 403
        assert wrong.json() == {
            "status": "error",
            "message": "hub.verify_token does not match the device's verify_token",
        }
        # The sandbox device has no webhook of Meta's; an unknown one neither.
        for device in (server.device_id, "dev-nobody"):
            missing = graph.webhooks.verify_subscription(
                VERIFY_TOKEN, url=webhook_url(server, device)
            )
            assert missing.status_code == 404


def test_adding_shows_the_numbers_profile_and_wrong_credentials_are_refused(
    tmp_path: Path,
) -> None:
    with GraphStandin() as graph, running(sqlite_url(tmp_path), tmp_path) as server:
        shown = add_cloud_device(server, graph, tmp_path)
        phone = DEFAULT_PHONE_NUMBER
        assert f"display phone {phone.display_phone_number}" in shown
        assert f"verified name {phone.verified_name}" in shown
        with server.client() as http:
            devices = {d["device"]: d for d in http.get("/device/list").json()["data"]}
        assert devices[CLOUD]["transport"] == "cloud"
        assert devices[CLOUD]["profile"] == {
            "display_phone": phone.display_phone_number,
            "verified_name": phone.verified_name,
            "quality_rating": phone.quality_rating,
        }
        assert devices[server.device_id]["profile"] is None
        listing = succeeded(run_kurir("devices", "list", database_url=server.database_url))
        [line] = [line for line in listing.splitlines() if line.startswith(CLOUD)]
        assert line.endswith(
            f"display phone {phone.display_phone_number}, verified name {phone.verified_name}, "
            f"quality {phone.quality_rating}"
        )

        path = tmp_path / "wrong.json"
        path.write_text(json.dumps(cloud_config(graph, access_token="EAAG-wrong-token")))
        refused = run_kurir(
            *("devices", "add", "--account", "default", "--phone", "628122222223"),
            *("--id", "dev-wrong", "--transport", "cloud", "--config-file", str(path)),
            database_url=server.database_url,
        )
        assert refused.returncode == 2
        assert "Meta refused the device's credentials" in refused.stderr
        assert "EAAG-wrong-token" not in refused.stderr + refused.stdout
        with server.client() as http:
            listed = [d["device"] for d in http.get("/device/list").json()["data"]]
        assert "dev-wrong" not in listed


def test_a_template_goes_out_on_a_cloud_device_and_other_transports_refuse_it(
    tmp_path: Path,
) -> None:
    body = {"type": "body", "parameters": [{"type": "text", "text": "Budi"}]}
    with GraphStandin() as graph, running(sqlite_url(tmp_path), tmp_path) as server:
        add_cloud_device(server, graph, tmp_path)
        with server.client() as http:
            sent = http.post(
                "/send/template",
                json={
                    "device": CLOUD,
                    "phone": "0811-1111-111",
                    "template": "order_shipped",
                    "language": "id",
                    "components": [body],
                },
            )
            assert sent.status_code == 200, sent.text
            message_id = sent.json()["message_id"]
            wamid = wamid_of(graph, message_id)
            assert graph.message(wamid).payload["template"] == {
                "name": "order_shipped",
                "language": {"code": "id"},
                "components": [body],
            }
            shown = status_becomes(http, message_id, "sent")
            assert (shown["type"], shown["content"]) == (
                "template",
                {"template": "order_shipped", "language": "id", "components": [body]},
            )

            # A PHP form: components JSON-encoded in one field.
            form = http.post(
                "/send/template",
                data={
                    "device": CLOUD,
                    "phone": RECIPIENT,
                    "template": "hello_world",
                    "language": "en_US",
                    "components": json.dumps([body]),
                },
            )
            assert form.status_code == 200, form.text

            refusals: list[tuple[dict[str, Any], str]] = [
                (
                    {"device": server.device_id},
                    "the sandbox transport cannot send template messages",
                ),
                ({"language": "Bahasa"}, "language must be a language code such as id or en_US"),
                ({"components": ["body"]}, "components[0] must be an object"),
                ({"components": "body"}, "components must be an array of objects"),
            ]
            for change, reason in refusals:
                request: dict[str, Any] = {
                    "device": CLOUD,
                    "phone": RECIPIENT,
                    "template": "hello_world",
                    "language": "id",
                    **change,
                }
                refused = http.post("/send/template", json=request)
                assert refused.status_code == 422, refused.text
                assert reason in refused.json()["message"]
            by_cli = run_kurir(
                *("send", "template", "--url", server.base_url, "--api-key", server.api_key),
                *("--device", CLOUD, "--phone", RECIPIENT, "--template", "hello_world"),
                *("--language", "en_US", "--components", json.dumps([body])),
                database_url=None,
            )
            assert json.loads(succeeded(by_cli))["status"] == "ok"
        wait_for(lambda: len(graph.sent) == 3 or None, timeout=20, what="the templates sent")
