"""``kurir broadcasts …`` and ``kurir contacts …`` run as a user runs them, against a real server.

The server has no dispatcher: a broadcast's messages stay planned, so its
state changes only by the commands under test.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.kurir_cli import (
    api_env,
    assert_all_refused,
    run_kurir,
    run_kurir_all,
    sqlite_server,
    succeeded,
)
from tests.support.provision import Tenant, provision_tenant
from tests.support.server import KurirProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    directory = tmp_path_factory.mktemp("broadcasts-cli")
    with sqlite_server(directory, args=("--no-dispatch",)) as process:
        yield process


@pytest.fixture
def tenant(server: KurirProcess) -> Tenant:
    return provision_tenant(server.database_url)


def test_a_broadcast_from_a_csv_file_through_its_life(
    server: KurirProcess, tenant: Tenant, tmp_path: Path
) -> None:
    env = api_env(server, tenant.api_key)
    receivers = tmp_path / "receivers.csv"
    receivers.write_text(
        "phone,message,name,opt1\n"
        "08121111111,{Halo|Hai} {name} {opt1},Budi,VIP\n"
        '"+62 812-2222-222","Hai {name}, apa kabar?",Sari,\n'
        "628121111111,Dobel,Budi,\n",
        encoding="utf-8",
    )
    created = json.loads(
        succeeded(
            run_kurir(
                "broadcasts", "create", "--device", tenant.device_id, "--title", "Promo",
                "--receivers", str(receivers), "--interval-from", "60", "--interval-to", "60",
                database_url=None, env=env,
            )
        )
    )  # fmt: skip
    assert (created["total_receiver"], created["total_duplicate"]) == (2, 1)
    broadcast_id = created["broadcast_id"]
    shown, listed, messages, paused = run_kurir_all(
        [
            ["broadcasts", "show", broadcast_id],
            ["broadcasts", "list", "--limit", "1"],
            ["broadcasts", "messages", broadcast_id],
            ["broadcasts", "pause", broadcast_id],
        ],
        database_url=None,
        env=env,
    )
    assert (json.loads(succeeded(shown))["title"], json.loads(shown.stdout)["total_receiver"]) == (
        "Promo",
        2,
    )
    assert [b["broadcast_id"] for b in json.loads(succeeded(listed))["data"]] == [broadcast_id]
    texts = {m["to"]: m["content"]["message"] for m in json.loads(succeeded(messages))["data"]}
    assert texts["628121111111"] in ("Halo Budi VIP", "Hai Budi VIP")
    assert texts["628122222222"] == "Hai Sari, apa kabar?"
    assert json.loads(succeeded(paused))["state"] == "paused"
    resumed = run_kurir("broadcasts", "resume", broadcast_id, database_url=None, env=env)
    assert json.loads(succeeded(resumed))["state"] == "running"
    cancelled = run_kurir("broadcasts", "cancel", broadcast_id, database_url=None, env=env)
    assert json.loads(succeeded(cancelled))["state"] == "cancelled"
    after = json.loads(
        succeeded(run_kurir("broadcasts", "show", broadcast_id, database_url=None, env=env))
    )
    assert after["totals"]["failed"] == 2


def test_contacts_from_a_json_file_and_flags_then_a_broadcast_of_their_group(
    server: KurirProcess, tenant: Tenant, tmp_path: Path
) -> None:
    env = api_env(server, tenant.api_key)
    contacts = tmp_path / "contacts.json"
    contacts.write_text(
        json.dumps([{"phone": 8123333333, "name": "Ani"}, {"phone": "08124444444", "opt2": "x"}])
    )
    from_file, by_flags = run_kurir_all(
        [
            ["contacts", "add", "--file", str(contacts), "--group", "vip"],
            ["contacts", "add", "--phone", "08125555555", "--name", "Eko", "--group", "vip"],
        ],
        database_url=None,
        env=env,
    )
    assert json.loads(succeeded(from_file))["total_customer"] == "2"
    assert json.loads(succeeded(by_flags))["total_customer"] == "1"
    listed = json.loads(
        succeeded(run_kurir("contacts", "list", "--group", "vip", database_url=None, env=env))
    )
    assert sorted((c["phone"], c["name"], c["opt2"]) for c in listed["data"]) == [
        ("628123333333", "Ani", ""),
        ("628124444444", "", "x"),
        ("628125555555", "Eko", ""),
    ]
    created, removed = run_kurir_all(
        [
            [
                "broadcasts",
                "create",
                "--title",
                "Grup",
                "--group",
                "vip",
                "--message",
                "Halo {name}",
            ],
            ["contacts", "remove", "08124444444", "--group", "vip"],
        ],
        database_url=None,
        env=env,
    )
    assert json.loads(succeeded(removed))["deleted"] == 1
    # Made before or after the removal: either way a broadcast of the group.
    assert json.loads(succeeded(created))["total_receiver"] in (2, 3)


def test_bad_files_and_refusals_are_named(
    server: KurirProcess, tenant: Tenant, tmp_path: Path
) -> None:
    env = api_env(server, tenant.api_key)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("phone,pesan\n08121111111,Halo\n")
    no_phone = tmp_path / "no-phone.json"
    no_phone.write_text('[{"phone": "08121111111"}, {"name": "Ani"}]')
    bad_number = tmp_path / "bad.csv"
    bad_number.write_text("phone,message\n12,Halo\n")
    create = ["broadcasts", "create", "--title", "T", "--receivers"]
    results = run_kurir_all(
        [
            [*create, str(unknown)],
            [*create, str(no_phone)],
            [*create, str(tmp_path / "missing.csv")],
        ],
        database_url=None,
        env=env,
    )
    for result, message in zip(
        results,
        [
            f"{unknown}, line 2: unknown field 'pesan' (known: phone, name, opt1",
            f"{no_phone}, item 1: phone is missing",
            "cannot read",
        ],
        strict=True,
    ):
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    assert_all_refused(
        [
            (
                [*create, str(bad_number)],
                1,
                "HTTP 422: 1 receiver is invalid: receiver[0] ('12'): ",
            ),
            (["broadcasts", "show", "0" * 16], 1, f"HTTP 404: broadcast {'0' * 16!r} not found"),
            (["contacts", "remove", "08129999999"], 1, "HTTP 404: customer 628129999999 not found"),
        ],
        database_url=None,
        env=env,
    )
