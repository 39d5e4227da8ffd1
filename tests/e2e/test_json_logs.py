"""KURIR_LOG_FORMAT=json: a real server's log is one JSON object a line, and holds no secret."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.contract import accepted_id, send_text, wait_for_status
from tests.e2e.kurir_cli import add_flaky_device, wait_until
from tests.support.databases import sqlite_url
from tests.support.receiver import Receiver
from tests.support.server import KurirProcess

SECRET_KEY = "kurir-test-secret-key-0123456789abcdef"
API_KEY = "test-key-json-logs-0123456789"


def test_json_lines_name_message_device_and_account_and_never_a_secret(tmp_path: Path) -> None:
    server = KurirProcess(
        sqlite_url(tmp_path),
        tmp_path,
        api_key=API_KEY,
        env={
            "KURIR_LOG_FORMAT": "json",
            # Everything, down to the libraries' own debug lines.
            "KURIR_LOG_LEVEL": "debug",
            "KURIR_SECRET_KEY": SECRET_KEY,
            "KURIR_RETRY_BASE_SECONDS": "0.1",
            "KURIR_ALLOW_PRIVATE_URLS": "true",
        },
    )
    stdout_path, stderr_path = tmp_path / "stdout", tmp_path / "stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        # stderr apart from stdout: the log is stderr; stdout has the first start's banner.
        server.process = subprocess.Popen(
            [sys.executable, "-m", "kurir", "serve"], env=server.env, stdout=stdout, stderr=stderr
        )
    try:
        server.wait_healthy()
        add_flaky_device(server.database_url, env={"KURIR_SECRET_KEY": SECRET_KEY})
        with server.client() as http, Receiver() as receiver:
            created = http.post(
                "/webhooks", json={"url": receiver.url, "events": ["message.status"]}
            ).json()
            webhook_secret = created["data"]["secret"]
            receiver.secret = webhook_secret
            message_id = accepted_id(send_text(http, "flaky"))
            wait_for_status(http, message_id, "delivered", timeout=60)
            wait_until(lambda: len(receiver.snapshot()) >= 2, within=30, what="the webhooks")
    finally:
        server.stop()

    lines = stderr_path.read_text().splitlines()
    assert lines
    records: list[dict[str, Any]] = []
    for line in lines:
        record = json.loads(line)  # every line, the libraries' too
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        records.append(record)
    assert any(record["logger"].startswith("uvicorn") for record in records)
    about = [record for record in records if record.get("message_id") == message_id]
    retried = [record for record in about if "retried" in record["message"]]
    assert retried, about
    assert all(record["device"] == "flaky" and record["account"] == 1 for record in about)
    assert any(record["message"] == "sent" for record in about)
    assert any(record.get("webhook") for record in records)

    log = stderr_path.read_text()
    printed = stdout_path.read_text()
    assert webhook_secret not in log + printed
    assert webhook_secret.removeprefix("whsec_") not in log + printed
    assert SECRET_KEY not in log + printed
    # The key is printed once on stdout at the first start, by design; never logged.
    assert API_KEY not in log
    assert printed.count(API_KEY) <= 2  # the banner's key line and its curl line
