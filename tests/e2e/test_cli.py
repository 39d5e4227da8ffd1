"""The ``kurir`` command, run as subprocesses against real databases and a real server.

Administration works on the database directly; ``send`` goes through the HTTP
API of a running ``kurir serve``. Refusals exit 2 (the command cannot be
carried out) or 1 (the server refused), always with a one-line message.
Commands that do not depend on each other run side by side, to keep this fast.
"""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

import kurir.store.migrate
from kurir import Client, KurirError
from kurir.api.types import MessageContent, MessageData
from tests.e2e.kurir_cli import (
    assert_all_refused,
    assert_refused,
    jakarta_schedule,
    run_kurir,
    run_kurir_all,
    sqlite_server,
    succeeded,
    wait_until,
)
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess, free_port

#: Small, so that revoking a key or removing a device shows within a test.
AUTH_CACHE_S = 0.5
#: Allowance on top of it for a request's own time on a busy machine.
SLACK_S = 1.5
UNKNOWN_MESSAGE = "3EB0" + "0" * 16
MIGRATIONS = Path(kurir.store.migrate.__file__).with_name("migrations")
#: One of each kind: all administrative commands share the way they open the database.
ADMIN_COMMANDS = [
    ["accounts", "list"],
    ["accounts", "create", "acme"],
    ["keys", "list", "--account", "acme"],
    ["devices", "list"],
    ["messages", "show", UNKNOWN_MESSAGE],
]
FIRST = "run 'kurir migrate' or 'make run' first, or set KURIR_DATABASE_URL"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    """``kurir serve`` on the database the commands administer, trusting auth briefly.

    Shared by the module: each test works on an account of its own.
    """
    env = {"KURIR_AUTH_CACHE_SECONDS": str(AUTH_CACHE_S)}
    with sqlite_server(tmp_path_factory.mktemp("cli"), env) as process:
        yield process


def _status(server: KurirProcess, api_key: str, device: str) -> int:
    """The HTTP status of a send through ``device`` (200, or the KurirError's status)."""
    try:
        with Client(server.base_url, api_key) as kurir:
            kurir.send_button(
                device=device,
                phone="08111111111",
                header="H",
                message="M",
                footer="F",
                buttons=["A"],
            )
    except KurirError as error:
        return error.status_code
    return 200


def _columns(listing: str) -> list[list[str]]:
    return [line.split("\t") for line in listing.splitlines()]


def _named(database_url: str) -> str:
    """How the commands name a database: a SQLite file by its full path, else by its URL."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(str(parsed.database)).resolve())
    return database_url


def _head() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def test_migrate_says_what_it_did(database_url: str) -> None:
    created = run_kurir("migrate", database_url=database_url)
    assert succeeded(created) == f"created the schema at revision {_head()}\n"
    assert created.stderr == f"kurir: using the database at {_named(database_url)}\n"
    assert succeeded(run_kurir("migrate", database_url=database_url)) == (
        f"the schema is already at the current revision {_head()}\n"
    )


def test_migrate_upgrades_an_older_schema(database_url: str) -> None:
    # The database as the first release of Kurir left it.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["kurir_database_url"] = database_url
    command.upgrade(config, "0001")
    assert succeeded(run_kurir("migrate", database_url=database_url)) == (
        f"upgraded the schema from revision 0001 to {_head()}\n"
    )


def test_admin_commands_create_no_database(tmp_path: Path) -> None:
    """Run in a folder without one, they name the file they looked for and leave nothing."""
    missing = tmp_path.resolve() / "data" / "kurir.db"
    assert_all_refused(
        [(args, 2, f"no database at {missing}; {FIRST}") for args in ADMIN_COMMANDS],
        database_url=None,
        cwd=tmp_path,
    )
    assert list(tmp_path.iterdir()) == []


def test_admin_commands_refuse_a_database_without_the_schema(database_url: str) -> None:
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        Path(str(parsed.database)).touch()  # an empty file, as `touch` or another tool leaves it
    refusal = f"the database at {_named(database_url)} has no Kurir schema; {FIRST}"
    assert_all_refused([(args, 2, refusal) for args in ADMIN_COMMANDS], database_url=database_url)
    # None of them created the schema either.
    assert_refused(run_kurir("accounts", "list", database_url=database_url), refusal, code=2)


def test_accounts_create_and_list(sqlite_database_url: str) -> None:
    url = sqlite_database_url
    succeeded(run_kurir("migrate", database_url=url))
    created = run_kurir("accounts", "create", "acme", database_url=url)
    assert succeeded(created) == "account 1 'acme' created\n"
    # Which database a command works on, on stderr: stdout stays the result alone.
    assert created.stderr == f"kurir: using the database at {_named(url)}\n"
    [listed] = assert_all_refused(
        [
            (["accounts", "create", " acme "], 2, "account 'acme' exists already"),
            (["accounts", "create", "  "], 2, "an account name is 1 to 100 characters"),
        ],
        database_url=url,
        alongside=[["accounts", "list"]],
    )
    assert [row[:2] for row in _columns(succeeded(listed))] == [["1", "acme"]]


def test_keys_create_list_revoke(running: KurirProcess) -> None:
    url = running.database_url
    tenant = provision_tenant(url, name="keys")
    keys = ["keys", "list", "--account", "keys"]
    revoke = ["keys", "revoke", "--account", "keys"]
    created = run_kurir("keys", "create", "--account", "keys", "--label", "ci", database_url=url)
    announcement, key = succeeded(created).splitlines()
    found = re.fullmatch(
        r"key (\d+) for account 'keys' \(shown once, store it now\):", announcement
    )
    assert found, announcement
    key_id = found[1]
    assert _status(running, key, tenant.device_id) == 200

    [listed] = assert_all_refused(
        [
            (["keys", "create", "--account", "nobody"], 2, "no account 'nobody'"),
            (
                ["keys", "create", "--account", "keys", "--label", "l" * 101],
                2,
                "a key label is at most 100 characters",
            ),
            # Another account's key is as unknown as a missing one.
            (
                ["keys", "revoke", "--account", "default", key_id],
                2,
                f"account 'default' has no active key {key_id}",
            ),
        ],
        database_url=url,
        alongside=[keys],
    )
    assert key not in listed.stdout
    assert _columns(succeeded(listed))[1] == [key_id, key[:9] + "…", "ci", "active"]

    assert succeeded(run_kurir(*revoke, key_id, database_url=url)) == f"key {key_id} revoked\n"
    wait_until(
        lambda: _status(running, key, tenant.device_id) == 401,
        within=AUTH_CACHE_S + SLACK_S,
        what="the revoked key is refused once the auth cache expires",
    )
    assert _status(running, tenant.api_key, tenant.device_id) == 200

    [listed] = assert_all_refused(
        [([*revoke, key_id], 2, f"account 'keys' has no active key {key_id}")],
        database_url=url,
        alongside=[keys],
    )
    states = [row[3] for row in _columns(succeeded(listed))]
    assert states[0] == "active"
    assert states[1].startswith("revoked ")


def test_devices_add_list_remove(running: KurirProcess) -> None:
    url = running.database_url
    tenant = provision_tenant(url, name="shops")
    other = provision_tenant(url, name="other")
    add = ["devices", "add", "--account", "shops", "--phone", "08144444444"]
    shop, till = assert_all_refused(
        [
            ([*add[:-1], "12345"], 2, "phone is not a valid phone number: '12345'"),
            ([*add, "--config", "{fail_attempts: 1}"], 2, "sandbox config: JSON is malformed"),
            ([*add, "--id", tenant.device_id], 2, f"device id {tenant.device_id!r} is taken"),
            # Device ids are global: another account's id is taken too.
            ([*add, "--id", other.device_id], 2, f"device id {other.device_id!r} is taken"),
            (
                [*add, "--id", "x" * 65],
                2,
                f"--id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got {'x' * 64!r}",
            ),
            # A "/" would put the id out of reach of /sandbox/{device}/... paths.
            (
                [*add, "--id", "s/x"],
                2,
                "--id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got 's/x'",
            ),
            (
                [*add, "--id", "toko 1"],
                2,
                "--id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got 'toko 1'",
            ),
            (
                [*add, "--id", "café"],
                2,
                "--id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -, got 'café'",
            ),
            (
                [*add, "--min-interval-ms", "-5"],
                2,
                "pacing: need 0 <= --min-interval-ms <= --max-interval-ms",
            ),
        ],
        database_url=url,
        alongside=[
            [*add[:-1], "+62 811-1111-111", "--id", "shop"],
            [*add, "--id", "till", "--config", '{"fail_attempts": 1}', "--max-interval-ms", "900"],
        ],
    )
    assert succeeded(shop) == "device shop (sandbox, 628111111111) added to 'shops'\n"
    assert succeeded(till) == "device till (sandbox, 628144444444) added to 'shops'\n"

    with Client(running.base_url, tenant.api_key) as kurir:
        waiting = kurir.send_button(
            device="shop",
            phone="08111111111",
            header="H",
            message="M",
            footer="F",
            buttons=["A"],
            schedule=jakarta_schedule(timedelta(hours=1)),
        )
        removed = run_kurir("devices", "remove", "--account", "shops", "shop", database_url=url)
        assert succeeded(removed) == "device shop removed\n"
        # At once: the store refuses it, whatever the API has cached.
        assert _status(running, tenant.api_key, "shop") == 404
        message = kurir.get_message(waiting.message_id)
    assert (message.status, message.last_error) == ("failed", "the device was removed")
    assert "failed" in message.timestamps

    remove = ["devices", "remove", "--account", "shops"]
    [listed] = assert_all_refused(
        [
            ([*remove, "shop"], 2, "account 'shops' has no device 'shop'"),
            ([*remove, other.device_id], 2, f"account 'shops' has no device {other.device_id!r}"),
            # A removed device's id stays taken: its messages still name it.
            ([*add, "--id", "shop"], 2, "device id 'shop' is taken"),
        ],
        database_url=url,
        alongside=[["devices", "list", "--account", "shops"]],
    )
    assert [row[:4] for row in _columns(succeeded(listed))] == [
        [tenant.device_id, tenant.device_phone, "sandbox", "0-0ms"],
        ["till", "628144444444", "sandbox", "0-900ms"],
    ]


def test_times_are_shown_in_kurir_timezone(running: KurirProcess) -> None:
    """As the API shows them: ``accounts list`` and a revoked key's time, with the zone's offset."""
    url = running.database_url
    tenant = provision_tenant(url, name="zones")
    spare = succeeded(run_kurir("keys", "create", "--account", "zones", database_url=url))
    key_id = spare.split()[1]  # "key 7 for account 'zones' (shown once…"
    succeeded(run_kurir("keys", "revoke", "--account", "zones", key_id, database_url=url))
    listings = ["accounts", "list"], ["keys", "list", "--account", "zones"]
    jakarta = run_kurir_all(listings, database_url=url)
    utc = run_kurir_all(listings, database_url=url, env={"KURIR_TIMEZONE": "UTC"})

    with Client(running.base_url, tenant.api_key) as kurir:
        [device] = kurir.list_devices()  # made in the same moment as the account
    shown_by_api = datetime.fromisoformat(device.created_at)
    [account] = [row for row in _columns(succeeded(jakarta[0])) if row[1] == "zones"]
    assert account[2] == shown_by_api.replace(microsecond=0).isoformat()
    assert account[2].endswith("+07:00")
    [account_utc] = [row for row in _columns(succeeded(utc[0])) if row[1] == "zones"]
    assert account_utc[2].endswith("+00:00")
    assert datetime.fromisoformat(account_utc[2]) == datetime.fromisoformat(account[2])

    [_, [*_, revoked]] = _columns(succeeded(jakarta[1]))
    [_, [*_, revoked_utc]] = _columns(succeeded(utc[1]))
    assert re.fullmatch(r"revoked \S+\+07:00", revoked)
    assert re.fullmatch(r"revoked \S+\+00:00", revoked_utc)


def _send_command(server: KurirProcess) -> list[str]:
    send = ["send", "button", "--device", server.device_id, "--phone", "0811-1111-111"]
    send += ["--header", "Header", "--message", "Pilih salah satu:", "--footer", "Footer"]
    return [*send, "--button", "Opsi 1", "--button", "Opsi 2"]


def test_send_finds_the_server_as_serve_would_listen(running: KurirProcess) -> None:
    """--url, else KURIR_URL, else KURIR_HOST and KURIR_PORT; an unreachable URL is named."""
    send = _send_command(running)
    nowhere = f"http://127.0.0.1:{free_port()}"
    key = {"KURIR_API_KEY": running.api_key}
    elsewhere = {"KURIR_PORT": nowhere.rpartition(":")[2]}
    chosen = [
        ([], {"KURIR_HOST": "127.0.0.1", "KURIR_PORT": str(running.port)}),
        ([], {**elsewhere, "KURIR_URL": running.base_url}),
        (["--url", running.base_url], {**elsewhere, "KURIR_URL": nowhere}),
    ]
    for flags, env in chosen:
        result = run_kurir(*send, *flags, database_url=None, env={**key, **env})
        assert json.loads(succeeded(result))["status"] == "ok"
    assert_refused(
        run_kurir(*send, database_url=None, env={**key, **elsewhere}),
        f"cannot reach the server at {nowhere}: ",
        code=1,
    )


def test_help_is_plain_text() -> None:
    """--help shows docstrings and help strings as they are: no reST markup may show."""
    # The top level, whose description is the module's docstring, and a sample of the rest.
    commands = [
        [],
        ["serve"],
        ["accounts"],
        ["keys", "create"],
        ["send", "text"],
        ["send", "media"],
    ]
    results = run_kurir_all([[*args, "--help"] for args in commands], database_url=None)
    for args, result in zip(commands, results, strict=True):
        text = succeeded(result)
        assert text.startswith(f"usage: kurir {' '.join(args)}".rstrip()), text
        assert not re.search(r"``|:[a-z]+:`|`_", text), text


def test_send_button_and_messages_show(running: KurirProcess) -> None:
    send = _send_command(running)
    here = ["--url", running.base_url]
    schedule = jakarta_schedule(timedelta(hours=1))
    by_env = run_kurir(
        *send,
        "--schedule",
        schedule,
        database_url=None,
        env={"KURIR_URL": running.base_url, "KURIR_API_KEY": running.api_key},
    )
    later = json.loads(succeeded(by_env))

    elsewhere = f"http://127.0.0.1:{free_port()}"
    by_flags, shown = assert_all_refused(
        [
            (
                [*send, *here, "--api-key", running.api_key, "--phone", "123"],
                1,
                "HTTP 422: phone is not a valid phone number: '123'",
            ),
            (
                [*send, "--url", elsewhere, "--api-key", running.api_key],
                1,
                f"cannot reach the server at {elsewhere}: ",
            ),
            ([*send, *here], 2, "an API key is needed: --api-key or KURIR_API_KEY"),
            (["messages", "show", UNKNOWN_MESSAGE], 2, f"no message {UNKNOWN_MESSAGE}"),
        ],
        database_url=running.database_url,
        alongside=[
            [*send, *here, "--api-key", running.api_key],
            ["messages", "show", later["message_id"]],
        ],
    )
    now = json.loads(succeeded(by_flags))
    for sent in now, later:
        assert sent == {
            "status": "ok",
            "message_id": sent["message_id"],
            "from": running.device_phone,
            "to": "628111111111",
            "message": "Success",
        }
    assert now["message_id"] != later["message_id"]

    message = json.loads(succeeded(shown))
    assert (message["message_id"], message["status"]) == (later["message_id"], "scheduled")
    assert (message["device"], message["to"]) == (running.device_id, "628111111111")
    date, time = schedule.split(" ")
    with Client(running.base_url, running.api_key) as kurir:
        # The operator's view is the owner's view.
        assert kurir.get_message(later["message_id"]) == msgspec.convert(message, MessageData)
    assert message["scheduled_for"] == f"{date}T{time}.000+07:00"


def test_send_text_and_media(running: KurirProcess) -> None:
    """Each kind prints the API's answer as JSON, and the server's refusal as its own."""
    to = ["--device", running.device_id, "--phone", "0811-1111-111"]
    here = ["--url", running.base_url]
    key = f"cli-{uuid.uuid4()}"
    text = ["send", "text", *to, "--message", "Halo"]
    pdf = "https://example.com/invoice-0042.pdf"
    # Scheduled, so that no worker fetches the file: fetching has tests of its own.
    media = ["send", "media", *to, "--media-url", pdf, "--type", "document"]
    media += ["--caption", "Invoice 0042", "--filename", "invoice-0042.pdf"]
    media += ["--schedule", jakarta_schedule(timedelta(hours=1))]
    texted, mediaed = assert_all_refused(
        [
            (
                ["send", "text", *to, *here, "--message", " "],
                1,
                "HTTP 422: message must not be empty",
            ),
            (
                ["send", "media", *to, *here, "--media-url", "ftp://example.com/a.pdf"],
                1,
                "HTTP 422: url: scheme must be http or https, not 'ftp'",
            ),
        ],
        database_url=None,
        # The text finds the server as serve listens; the media is told where it is.
        env={
            "KURIR_API_KEY": running.api_key,
            "KURIR_HOST": "127.0.0.1",
            "KURIR_PORT": str(running.port),
        },
        alongside=[[*text, "--idempotency-key", key], [*media, *here]],
    )
    sent = [json.loads(succeeded(result)) for result in (texted, mediaed)]
    for answer in sent:
        assert answer == {
            "status": "ok",
            "message_id": answer["message_id"],
            "from": running.device_phone,
            "to": "628111111111",
            "message": "Success",
        }
    text_id, media_id = (answer["message_id"] for answer in sent)
    with Client(running.base_url, running.api_key) as kurir:
        # The key went with the text: the same send with it is the same message.
        again = kurir.send_text(
            device=running.device_id, phone="08111111111", message="Halo", idempotency_key=key
        )
        assert again.message_id == text_id
        assert kurir.get_message(text_id).content == MessageContent(message="Halo")
        media_message = kurir.get_message(media_id)
    assert (media_message.type, media_message.status) == ("media", "scheduled")
    assert media_message.content == MessageContent(
        url=pdf, type="document", caption="Invoice 0042", filename="invoice-0042.pdf"
    )
