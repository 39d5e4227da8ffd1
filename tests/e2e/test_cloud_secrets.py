"""A cloud device's secrets: sealed at rest with KURIR_SECRET_KEY, shown and logged nowhere."""

import json
from pathlib import Path

import sqlalchemy as sa

from tests.e2e.cloud_device import (
    CLOUD,
    RECIPIENT,
    add_cloud_device,
    status_becomes,
    wamid_of,
    webhook_url,
)
from tests.support.cloud import VERIFY_TOKEN
from tests.support.databases import sqlite_url
from tests.support.gateway import running, wait_for
from tests.support.graph_standin import GraphStandin

KEY = {"KURIR_SECRET_KEY": "tK3v9wVbq0Yk2m8Rr1LZc5pN7xA4sE6dFhJ0uQ2iWgo="}


def test_secrets_are_sealed_at_rest_and_opened_only_with_the_key(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    secrets: list[str] = []
    with GraphStandin() as graph:
        secrets = [graph.access_token, graph.app_secret, VERIFY_TOKEN]
        with running(url, tmp_path, KURIR_LOG_LEVEL="debug", **KEY) as server:
            shown = add_cloud_device(server, graph, tmp_path, env=KEY)
            engine = sa.create_engine(url)
            with engine.begin() as connection:
                stored = connection.execute(
                    sa.text("SELECT config FROM devices WHERE public_id = :id"), {"id": CLOUD}
                ).scalar_one()
            engine.dispose()
            config = json.loads(stored)
            for name in ("access_token", "app_secret", "verify_token"):
                assert config[name].startswith("sealed:v1:"), name
            assert config["phone_number_id"] == graph.phone.id
            assert not any(secret in stored for secret in secrets)

            graph.webhooks.url = webhook_url(server)
            with server.client() as http:
                sent = http.post(
                    "/send/text", json={"device": CLOUD, "phone": RECIPIENT, "message": "Halo"}
                )
                message_id = sent.json()["message_id"]
                wamid = wamid_of(graph, message_id)  # the token was opened to send it
                status_becomes(http, message_id, "sent")
                assert graph.webhooks.deliver(graph.status(wamid, "read")).status == 200
                status_becomes(http, message_id, "read")  # and the app secret, to verify this
                answered = graph.webhooks.verify_subscription(VERIFY_TOKEN, challenge="42")
                assert answered.text == "42"
                listing = http.get("/device/list").text
            assert not any(secret in listing + shown for secret in secrets)

        # Without the key the device cannot be used, and says why.
        with running(url, tmp_path, KURIR_LOG_LEVEL="debug") as keyless:
            with keyless.client() as http:
                http.post("/send/text", json={"device": CLOUD, "phone": RECIPIENT, "message": "x"})

                def state() -> str | None:
                    devices = {d["device"]: d for d in http.get("/device/list").json()["data"]}
                    found: str = devices[CLOUD]["state"]
                    return found if found.startswith("error:") else None

                shown_state = wait_for(state, timeout=20, what="the device to show its error")
            assert "sealed with KURIR_SECRET_KEY, which is not set" in shown_state
            delivered = graph.status(wamid, "delivered")
            refused = graph.webhooks.deliver(delivered, url=webhook_url(keyless))
            assert refused.status == 404
            logs = server.log() + keyless.log()
    assert not any(secret in logs for secret in secrets)
