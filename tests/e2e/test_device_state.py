"""A device's state in /device/list is what its transport reports, and a broken config shows.

A device whose config cannot be built must not sit leased and silent: the
worker records the error as the device's state, and the owner sees why
nothing goes out.
"""

from pathlib import Path

import sqlalchemy as sa

from tests.e2e.kurir_cli import wait_until
from tests.support.databases import sqlite_url
from tests.support.server import KurirProcess


def _states(server: KurirProcess) -> dict[str, str]:
    with server.client() as http:
        answer = http.get("/device/list").json()
    return {device["device"]: device["state"] for device in answer["data"]}


def test_a_config_that_cannot_be_used_shows_as_the_device_state(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    server = KurirProcess(url, tmp_path).start()
    try:
        wait_until(
            lambda: _states(server) == {server.device_id: "connected"},
            within=20,
            what="the worker takes the device and its transport reports it connected",
        )
    finally:
        server.stop()

    # Edited by hand behind Kurir's back: the CLI would refuse this config.
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE devices SET config = :config WHERE public_id = :device"),
            {"config": '{"fail_attempts": "many"}', "device": server.device_id},
        )
    engine.dispose()

    restarted = KurirProcess(url, tmp_path).start()
    try:
        wait_until(
            lambda: _states(restarted)[restarted.device_id].startswith("error: sandbox config:"),
            within=20,
            what="the unusable config is shown as the device's state",
        )
        state = _states(restarted)[restarted.device_id]
        assert "fail_attempts" in state, state
    finally:
        restarted.stop()
