"""A cloud device on a running server, added as an operator adds one, and its messages."""

import json
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.kurir_cli import run_kurir, succeeded
from tests.support.cloud import cloud_config
from tests.support.gateway import wait_for
from tests.support.graph_standin import GraphStandin
from tests.support.server import KurirProcess

RECIPIENT = "628111111111"
CLOUD = "dev-cloud"


def add_cloud_device(
    server: KurirProcess,
    graph: GraphStandin,
    directory: Path,
    device: str = CLOUD,
    env: dict[str, str] | None = None,
    **config: Any,
) -> str:
    """``kurir devices add --transport cloud`` with a config file; the command's output."""
    path = directory / f"{device}.json"
    path.write_text(json.dumps(cloud_config(graph, **config)))
    return succeeded(
        run_kurir(
            "devices",
            "add",
            "--account",
            "default",
            "--phone",
            graph.phone.digits,
            "--id",
            device,
            "--transport",
            "cloud",
            "--config-file",
            str(path),
            database_url=server.database_url,
            env=env,
        )
    )


def webhook_url(server: KurirProcess, device: str = CLOUD) -> str:
    return f"{server.base_url}/webhooks/cloud/{device}"


def send_buttons(http: httpx.Client, count: int = 2, device: str = CLOUD) -> str:
    response = http.post(
        "/send/button",
        json={
            "device": device,
            "phone": RECIPIENT,
            "message_header": "Header",
            "message": "Pilih salah satu:",
            "message_footer": "Footer",
            "buttons": [f"Opsi {n}" for n in range(1, count + 1)],
        },
    )
    assert response.status_code == 200, response.text
    message_id: str = response.json()["message_id"]
    return message_id


def message(http: httpx.Client, message_id: str) -> dict[str, Any]:
    response = http.get(f"/message/{message_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def status_becomes(http: httpx.Client, message_id: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        data = message(http, message_id)
        return data if data["status"] == status else None

    return wait_for(check, timeout=20, what=f"message {message_id} to be {status}")


def wamid_of(graph: GraphStandin, message_id: str) -> str:
    """Meta's id for the Kurir message, once the stand-in accepted it."""

    def check() -> str | None:
        for sent in graph.sent:
            if sent.payload.get("biz_opaque_callback_data") == message_id:
                return sent.wamid
        return None

    return wait_for(check, timeout=20, what=f"the stand-in to accept {message_id}")
