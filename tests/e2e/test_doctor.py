"""``kurir doctor`` on a healthy installation and on broken ones: what it finds, its exit code."""

from pathlib import Path

from alembic import command
from starlette.responses import Response

from kurir.store.migrate import _config, head_revision, upgrade_to_head
from tests.e2e.kurir_cli import run_kurir, run_kurir_all, wait_until
from tests.support.databases import sqlite_url
from tests.support.receiver import Receiver
from tests.support.server import KurirProcess


def doctor_of(url: str, **env: str) -> tuple[int, str]:
    result = run_kurir("doctor", database_url=url, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


def test_a_healthy_gateway_needs_nothing_and_a_failing_receiver_is_named(tmp_path: Path) -> None:
    server = KurirProcess(
        sqlite_url(tmp_path), tmp_path, env={"KURIR_ALLOW_PRIVATE_URLS": "true"}
    ).start()
    try:

        def device_line() -> str:
            return doctor_of(server.database_url)[1]

        wait_until(
            lambda: "[ok] device dev-main (sandbox): connected" in device_line(),
            within=30,
            what="the worker holding the device",
        )
        code, out = doctor_of(server.database_url)
        assert code == 0, out
        assert "[ok] database: " in out
        assert f"schema at the current revision {head_revision(server.database_url)}" in out
        assert "[ok] workers: 1 running" in out
        assert "[fix]" not in out
        assert out.rstrip().endswith(("nothing to fix", "to look at)"))

        with server.client() as http, Receiver() as receiver:
            receiver.answer_with = lambda _body: Response(status_code=500)
            created = http.post(
                "/webhooks", json={"url": receiver.url, "events": ["message.status"]}
            ).json()["data"]
            receiver.secret = created["secret"]
            http.post(
                "/send/text",
                json={"device": server.device_id, "phone": "08111111111", "message": "Halo"},
            )
            wait_until(
                lambda: doctor_of(server.database_url)[0] == 1,
                within=30,
                what="the failing endpoint found",
            )
        code, out = doctor_of(server.database_url)
        assert code == 1
        assert (
            f"[fix] webhook {created['id']} of account 'default': every delivery has failed" in out
        )
        assert f"-> see kurir webhooks deliveries {created['id']}" in out
        assert out.rstrip().endswith("1 to fix, 1 to look at")
        # Nothing it prints is a secret.
        assert created["secret"] not in out
    finally:
        server.stop()


def test_broken_settings_a_missing_database_and_an_old_schema_are_named(tmp_path: Path) -> None:
    behind = sqlite_url(tmp_path / "behind")
    (tmp_path / "behind").mkdir()
    upgrade_to_head(behind)
    command.downgrade(_config(behind), "-1")
    missing = sqlite_url(tmp_path / "nowhere")
    results = run_kurir_all(
        [["doctor"], ["doctor", "--database-url", missing], ["doctor", "--database-url", behind]],
        database_url=behind,
        env={"KURIR_TIMEZONE": "Mars/Olympus_Mons"},
    )
    bad_zone = "[fix] settings: KURIR_TIMEZONE: unknown time zone 'Mars/Olympus_Mons'"
    for result in results:
        assert result.returncode == 1, result.stdout + result.stderr
        assert bad_zone in result.stdout
        assert "-> correct that variable" in result.stdout
    fixed = run_kurir_all(
        [["doctor", "--database-url", missing], ["doctor", "--database-url", behind]],
        database_url=None,
    )
    assert fixed[0].returncode == 1
    assert "[fix] database: no database at " in fixed[0].stdout
    assert "-> run: kurir migrate" in fixed[0].stdout
    assert not (tmp_path / "nowhere").exists()  # the doctor created nothing
    assert fixed[1].returncode == 1
    head = head_revision(behind)
    assert "[fix] database: the schema is at revision " in fixed[1].stdout
    assert f"this Kurir needs {head}" in fixed[1].stdout
    assert "-> run: kurir migrate" in fixed[1].stdout
