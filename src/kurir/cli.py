"""The kurir command: run the gateway, administer accounts, keys and devices, send.

Administration works on the database directly (it is the operator's tool);
send, broadcasts, contacts and webhooks go through the HTTP API like any client.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from kurir.api.types import SendResponse
from kurir.cli_broadcasts import add_broadcast_commands
from kurir.cli_webhooks import add_webhook_commands
from kurir.client import Client, KurirError, MessageQuery
from kurir.clock import now_ms, to_datetime
from kurir.config import Settings, SettingsError, load_settings
from kurir.domain.devices import DeviceProfile, check_device_id
from kurir.domain.errors import ValidationError
from kurir.domain.keys import MAX_KEY_LABEL, new_api_key
from kurir.domain.phone import normalise_phone
from kurir.sealing import secret_box
from kurir.store import DATABASE_ERRORS, Store, accounts, reading
from kurir.store.database import DatabaseURLError, is_sqlite
from kurir.store.records import Account
from kurir.transports import (
    TransportConfigError,
    check_credentials,
    config_to_store,
    default_transport,
    read_config,
    transport_names,
)
from kurir.transports.registry import transport_class

#: What opening a database that cannot be used raises (asyncpg: OSError when nobody answers).
_OPEN_ERRORS: tuple[type[Exception], ...] = (*DATABASE_ERRORS, OSError)


# Settings that have a flag of their own: the database URL is every command's,
# and keys on the command line would show in every `ps`, so they stay in the environment.
_SERVE_FLAGS = tuple(
    field.name
    for field in msgspec.structs.fields(Settings)
    if field.name not in ("database_url", "dispatch", "bootstrap_api_key", "secret_key")
)


class CommandError(Exception):
    """A command that cannot be carried out; its message is printed as is."""


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.run is _doctor:  # it reports broken settings rather than stopping at them
        from kurir.doctor import run_doctor

        sys.exit(run_doctor(args.database_url))
    try:
        settings = load_settings(database_url=getattr(args, "database_url", None))
        args.run(args, settings)
    except (CommandError, SettingsError, ValidationError) as error:
        print(f"kurir: {error}", file=sys.stderr)
        sys.exit(2)
    except DatabaseURLError as error:
        # Name where the URL came from, as settings errors do.
        print(f"kurir: KURIR_DATABASE_URL (or --database-url): {error}", file=sys.stderr)
        sys.exit(2)
    except KurirError as error:
        # Status 0 is the client's "no answer at all", not an HTTP status.
        status = f"HTTP {error.status_code}: " if error.status_code else ""
        print(f"kurir: {status}{error.message}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _parser() -> argparse.ArgumentParser:
    # The docstring is the help text, so it is written plain (no reST markup).
    parser = argparse.ArgumentParser(prog="kurir", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Callable[..., None], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        sub.add_argument("--database-url", help="overrides KURIR_DATABASE_URL")
        return sub

    serve = command("serve", _serve, "run the HTTP API and the dispatcher")
    # Every setting has its flag; values are checked with the environment's.
    for name in _SERVE_FLAGS:
        serve.add_argument(
            f"--{name.replace('_', '-')}", dest=name, help=f"overrides KURIR_{name.upper()}"
        )
    serve.add_argument("--no-dispatch", action="store_true", help="serve the API only")
    command("worker", _worker, "run the dispatcher alone")
    command("migrate", _migrate, "bring the database to the current schema")
    command(
        "doctor",
        _doctor,
        "check the settings, the database, the devices and the webhook endpoints; "
        "say what to fix (exit code 1 when something needs fixing)",
    )

    accounts_cmd = commands.add_parser("accounts", help="manage accounts").add_subparsers(
        required=True, metavar="ACTION"
    )
    sub = accounts_cmd.add_parser("create", help="create an account")
    sub.add_argument("name")
    sub.set_defaults(run=_admin(_accounts_create))
    accounts_cmd.add_parser("list", help="list accounts").set_defaults(run=_admin(_accounts_list))

    keys_cmd = commands.add_parser("keys", help="manage API keys").add_subparsers(
        required=True, metavar="ACTION"
    )
    sub = keys_cmd.add_parser("create", help="create an API key (shown once)")
    sub.add_argument("--account", required=True, help="account name or id")
    sub.add_argument("--label", default="")
    sub.set_defaults(run=_admin(_keys_create))
    sub = keys_cmd.add_parser("list", help="list an account's keys")
    sub.add_argument("--account", required=True)
    sub.set_defaults(run=_admin(_keys_list))
    sub = keys_cmd.add_parser("revoke", help="revoke a key by its id")
    sub.add_argument("--account", required=True)
    sub.add_argument("key_id", type=int)
    sub.set_defaults(run=_admin(_keys_revoke))

    # The commands that go through the HTTP API name the server and the key.
    server_flags = argparse.ArgumentParser(add_help=False)
    server_flags.add_argument(
        "--url",
        dest="server",
        metavar="URL",
        help="the server (default: KURIR_URL, else http://KURIR_HOST:KURIR_PORT)",
    )
    server_flags.add_argument(
        "--api-key", default=os.environ.get("KURIR_API_KEY"), help="or KURIR_API_KEY"
    )

    devices_cmd = commands.add_parser("devices", help="manage devices").add_subparsers(
        required=True, metavar="ACTION"
    )
    sub = devices_cmd.add_parser("add", help="add a device to an account")
    sub.add_argument("--account", required=True)
    sub.add_argument("--phone", required=True, help="the device's own WhatsApp number")
    sub.add_argument("--id", dest="public_id", help="the device id clients use (default: random)")
    sub.add_argument("--transport", default=default_transport(), choices=transport_names())
    config = sub.add_mutually_exclusive_group()
    config.add_argument("--config", default="{}", help="the transport's config, as JSON")
    config.add_argument(
        "--config-file",
        help="a file holding the config (- for stdin): secrets in it stay out of `ps`",
    )
    sub.add_argument(
        "--min-interval-ms",
        type=int,
        help="pacing: least time between sends (default: the "
        "transport's; 3000 for whatsapp-web, else 0)",
    )
    sub.add_argument("--max-interval-ms", type=int, help="pacing: most time between sends")
    sub.set_defaults(run=_admin(_devices_add))
    sub = devices_cmd.add_parser(
        "pair", parents=[server_flags], help="link a WhatsApp Web device: show its QR code"
    )
    sub.add_argument("device")
    sub.add_argument("--code", action="store_true", help="pair by a code typed on the phone")
    sub.add_argument("--phone", help="with --code: the number to link (default: the device's)")
    sub.set_defaults(run=_pair)
    sub = devices_cmd.add_parser("list", help="list devices")
    sub.add_argument("--account")
    sub.set_defaults(run=_admin(_devices_list))
    sub = devices_cmd.add_parser("remove", help="remove a device; its waiting messages fail")
    sub.add_argument("--account", required=True)
    sub.add_argument("device")
    sub.set_defaults(run=_admin(_devices_remove))

    messages_cmd = commands.add_parser("messages", help="inspect messages").add_subparsers(
        required=True, metavar="ACTION"
    )
    sub = messages_cmd.add_parser("show", help="show a message and its life so far")
    sub.add_argument("message_id")
    sub.set_defaults(run=_admin(_messages_show))
    sub = messages_cmd.add_parser(
        "list",
        parents=[server_flags],
        help="list the account's messages, newest first, through the HTTP API",
    )
    for flag in ("device", "status", "recipient", "kind", "since", "until", "broadcast"):
        sub.add_argument(f"--{flag}", help="only messages with this " + flag)
    sub.add_argument("--limit", type=int, help="messages per page (1 to 500, 50 by default)")
    sub.add_argument("--before", help="the next_cursor of the previous page")
    sub.set_defaults(run=_messages_list)

    # The flags every kind shares. A send's flags are named (their dest) after the client
    # method's arguments they fill: _send passes them on by name.
    common = argparse.ArgumentParser(add_help=False, parents=[server_flags])
    common.add_argument("--device", required=True, help="the device that sends")
    common.add_argument("--phone", required=True, help="the recipient, in any usual notation")
    common.add_argument(
        "--schedule",
        help="when to send: Y-m-d H:i:s in the server's time zone, or ISO 8601 (default: now)",
    )
    common.add_argument("--idempotency-key", help="a retry with the same key sends nothing twice")
    send_cmd = commands.add_parser("send", help="send through the HTTP API").add_subparsers(
        required=True, metavar="KIND"
    )

    def send(kind: str, method: Callable[..., SendResponse], help: str) -> argparse.ArgumentParser:
        sub = send_cmd.add_parser(kind, parents=[common], help=help, description=help)
        sub.set_defaults(run=_send, send=method)
        return sub

    sub = send("text", Client.send_text, "send a text message")
    sub.add_argument("--message", required=True)
    sub = send("media", Client.send_media, "send a picture, video, audio or document from a URL")
    # Not --url: that names the server, in every send.
    sub.add_argument("--media-url", dest="url", required=True, help="where the server fetches it")
    sub.add_argument(
        "--type",
        choices=["image", "video", "audio", "document"],
        help="how WhatsApp shows it (default: told from the file)",
    )
    sub.add_argument("--caption")
    sub.add_argument("--filename", help="the name the recipient sees for a document")
    sub = send("button", Client.send_button, "send a button message")
    sub.add_argument("--header", required=True)
    sub.add_argument("--message", required=True)
    sub.add_argument("--footer", required=True)
    sub.add_argument("--button", action="append", required=True, dest="buttons")
    sub = send("template", Client.send_template, "send a message template (cloud devices)")
    sub.add_argument("--template", required=True, help="the template's name")
    sub.add_argument("--language", required=True, help="its language code: id, en_US, ...")
    sub.add_argument(
        "--components", type=_json_array, help="its parameters, as Meta takes them (JSON)"
    )
    add_broadcast_commands(commands, server_flags, _through_api)
    add_webhook_commands(commands, server_flags, _through_api)
    return parser


def _json_array(text: str) -> list[Any]:
    """A JSON array given on the command line (argparse reports the error)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not valid JSON") from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError("must be a JSON array")
    return value


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    from kurir.server import ListenError, serve

    overrides: dict[str, Any] = {name: getattr(args, name) for name in _SERVE_FLAGS}
    if args.no_dispatch:
        overrides["dispatch"] = False
    settings = load_settings(database_url=args.database_url, **overrides)
    _configure_logging(settings)
    try:
        run_event_loop(serve(settings))
    except ListenError as error:
        raise CommandError(str(error)) from None


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived process on uvloop, which serves HTTP about 1.6x faster here."""
    try:
        import uvloop
    except ImportError:  # not built for this platform: the standard loop works too
        asyncio.run(main)
        return
    uvloop.run(main)


def _worker(_args: argparse.Namespace, settings: Settings) -> None:
    from kurir.server import ListenError, work

    _configure_logging(settings)
    try:
        run_event_loop(work(settings))
    except ListenError as error:  # the metrics port
        raise CommandError(str(error)) from None


def _doctor(_args: argparse.Namespace, _settings: Settings) -> None:
    """Run by `main` itself, before the settings are loaded (see kurir.doctor)."""


def _migrate(_args: argparse.Namespace, settings: Settings) -> None:
    from kurir.store.migrate import upgrade_to_head

    print(f"kurir: using the database at {_database_name(settings.database_url)}", file=sys.stderr)
    done = upgrade_to_head(settings.database_url)
    if done.before is None:
        print(f"created the schema at revision {done.after}")
    elif done.before != done.after:
        print(f"upgraded the schema from revision {done.before} to {done.after}")
    else:
        print(f"the schema is already at the current revision {done.after}")


def _configure_logging(settings: Settings) -> None:
    from kurir.logs import configure_logging

    configure_logging(level=settings.log_level, json=settings.log_format == "json")


AdminCommand = Callable[[Store, argparse.Namespace], Awaitable[None]]


def _admin(command: AdminCommand) -> Callable[[argparse.Namespace, Settings], None]:
    """Run an administrative command against an existing database, migrated first.

    It never creates one: run from another folder, the default relative
    SQLite path would otherwise leave an empty database there and show nothing.
    """

    def run(args: argparse.Namespace, settings: Settings) -> None:
        from kurir.store.migrate import current_revision, upgrade_to_head_async

        url = settings.database_url
        name = _database_name(url)
        first = "run 'kurir migrate' or 'make run' first, or set KURIR_DATABASE_URL"
        if _sqlite_file_missing(url):  # opening it would create it
            raise CommandError(f"no database at {name}; {first}")

        async def go() -> None:
            store = Store(url, pool_size=2)
            try:
                try:
                    revision = await store.read(current_revision)
                except _OPEN_ERRORS as error:
                    reason = error.orig if isinstance(error, DBAPIError) else error
                    raise CommandError(f"cannot open the database at {name}: {reason}") from None
                if revision is None:
                    raise CommandError(f"the database at {name} has no Kurir schema; {first}")
                print(f"kurir: using the database at {name}", file=sys.stderr)
                await upgrade_to_head_async(url)
                await command(store, args)
            finally:
                await store.close()

        asyncio.run(go())

    return run


def _database_name(url: str) -> str:
    """The database as an operator recognises it: a SQLite file's full path, else the URL."""
    parsed = make_url(url)
    if is_sqlite(url) and parsed.database and parsed.database != ":memory:":
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    return (
        is_sqlite(url)
        and bool(parsed.database)
        and parsed.database != ":memory:"
        and not Path(str(parsed.database)).exists()
    )


async def _account(store: Store, name_or_id: str) -> Account:
    account = await store.read(accounts.find_account, name_or_id)
    if account is None:
        raise CommandError(f"no account {name_or_id!r}")
    return account


async def _accounts_create(store: Store, args: argparse.Namespace) -> None:
    name = args.name.strip()
    if not name or len(name) > 100:
        raise CommandError("an account name is 1 to 100 characters")
    if await store.read(accounts.find_account, name) is not None:
        raise CommandError(f"account {name!r} exists already")
    account = await store.write(accounts.create_account, name=name, now=now_ms())
    print(f"account {account.id} {account.name!r} created")


async def _accounts_list(store: Store, _args: argparse.Namespace) -> None:
    zone = load_settings().zone
    for account in await store.read(accounts.list_accounts):
        print(f"{account.id}\t{account.name}\t{_when(account.created_at, zone)}")


async def _keys_create(store: Store, args: argparse.Namespace) -> None:
    account = await _account(store, args.account)
    if len(args.label) > MAX_KEY_LABEL:
        raise CommandError(f"a key label is at most {MAX_KEY_LABEL} characters")
    key = new_api_key()
    created = await store.write(
        accounts.create_api_key,
        account_id=account.id,
        key=key,
        label=args.label,
        now=now_ms(),
    )
    print(f"key {created.id} for account {account.name!r} (shown once, store it now):")
    print(key)


async def _keys_list(store: Store, args: argparse.Namespace) -> None:
    account = await _account(store, args.account)
    zone = load_settings().zone
    for key in await store.read(accounts.list_api_keys, account_id=account.id):
        state = f"revoked {_when(key.revoked_at, zone)}" if key.revoked_at else "active"
        print(f"{key.id}\t{key.hint}\t{key.label}\t{state}")


async def _keys_revoke(store: Store, args: argparse.Namespace) -> None:
    account = await _account(store, args.account)
    if not await store.write(
        accounts.revoke_api_key, account_id=account.id, key_id=args.key_id, now=now_ms()
    ):
        raise CommandError(f"account {account.name!r} has no active key {args.key_id}")
    print(f"key {args.key_id} revoked")


async def _devices_add(store: Store, args: argparse.Namespace) -> None:
    import secrets

    account = await _account(store, args.account)
    settings = load_settings()
    region = settings.default_region
    phone = normalise_phone(args.phone, region)
    config_json = _config_json(args)
    try:
        config = read_config(args.transport, config_json, default_region=region)
    except TransportConfigError as error:
        raise CommandError(str(error)) from None
    # A max of 0 means "the same as the min" (fixed pacing), so only a max above 0 bounds it.
    if args.min_interval_ms is None and args.max_interval_ms is None:
        args.min_interval_ms, args.max_interval_ms = transport_class(
            args.transport
        ).default_pacing_ms
    args.min_interval_ms = args.min_interval_ms or 0
    args.max_interval_ms = args.max_interval_ms or 0
    lowest, highest = args.min_interval_ms, args.max_interval_ms
    if lowest < 0 or highest < 0 or 0 < highest < lowest:
        raise CommandError("pacing: need 0 <= --min-interval-ms <= --max-interval-ms")
    public_id = check_device_id(args.public_id or secrets.token_hex(6), field="--id")
    taken = CommandError(f"device id {public_id!r} is taken")
    if await store.read(accounts.find_device, public_id) is not None:
        raise taken
    # Wrong credentials are refused now, not at the first send.
    try:
        profile = await check_credentials(args.transport, config)
    except TransportConfigError as error:
        raise CommandError(str(error)) from None
    try:
        device = await store.write(
            accounts.add_device,
            public_id=public_id,
            account_id=account.id,
            phone=phone,
            transport=args.transport,
            config=config_to_store(
                args.transport, config_json, secrets=secret_box(settings.secret_key)
            ),
            profile=msgspec.json.encode(profile).decode() if profile is not None else None,
            min_interval_ms=args.min_interval_ms,
            max_interval_ms=max(args.min_interval_ms, args.max_interval_ms),
            created_at=now_ms(),
        )
    except IntegrityError:
        # find_device skips removed devices, but their ids stay taken (their
        # messages still name them); also a concurrent add of the same id.
        raise taken from None
    print(
        f"device {device.public_id} ({device.transport}, {device.phone}) added to {account.name!r}"
    )
    if profile is not None:
        print(f"  {_shown_profile(profile)}")


async def _devices_list(store: Store, args: argparse.Namespace) -> None:
    account_id = (await _account(store, args.account)).id if args.account else None
    for device in await store.read(accounts.list_devices, account_id=account_id):
        pacing = f"{device.min_interval_ms}-{device.max_interval_ms}ms"
        columns = [device.public_id, device.phone, device.transport, pacing, device.account_id]
        if device.profile is not None:
            columns.append(_shown_profile(msgspec.json.decode(device.profile, type=DeviceProfile)))
        print("\t".join(str(column) for column in columns))


def _config_json(args: argparse.Namespace) -> str:
    """The config from --config, or the file (or stdin) --config-file names."""
    if args.config_file is None:
        return str(args.config)
    if args.config_file == "-":
        return sys.stdin.read()
    try:
        return Path(args.config_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"--config-file: cannot read {args.config_file}: {error}") from None


def _shown_profile(profile: DeviceProfile) -> str:
    """What the provider said of the number, as one line."""
    shown = {
        "display phone": profile.display_phone,
        "verified name": profile.verified_name,
        "quality": profile.quality_rating,
    }
    return ", ".join(f"{name} {value}" for name, value in shown.items() if value is not None)


async def _devices_remove(store: Store, args: argparse.Namespace) -> None:
    account = await _account(store, args.account)
    device = await store.read(accounts.find_device, args.device)
    if (
        device is None
        or device.account_id != account.id
        or not await store.write(
            accounts.remove_device, account_id=account.id, public_id=args.device, now=now_ms()
        )
    ):
        raise CommandError(f"account {account.name!r} has no device {args.device!r}")
    # Its session keys too: no worker opens a removed device to delete them later.
    await transport_class(device.transport).forget_device(store, device.id)
    print(f"device {args.device} removed")


async def _messages_show(store: Store, args: argparse.Namespace) -> None:
    """The message as its owner sees it through GET /message/{id}, whoever owns it."""
    from kurir.api.views import message_data

    view = await store.read(reading.get_message, args.message_id, account_id=None)
    if view is None:
        raise CommandError(f"no message {args.message_id}")
    shown = msgspec.to_builtins(message_data(view, load_settings().zone))
    print(json.dumps(shown, indent=2, ensure_ascii=False))


def _messages_list(args: argparse.Namespace, settings: Settings) -> None:
    query = {name: getattr(args, name) for name in MessageQuery.__annotations__}
    with _client(args, settings) as client:
        page = client.list_messages(**query)
    print(json.dumps(msgspec.to_builtins(page), ensure_ascii=False))


#: What a send's namespace holds besides the client method's arguments.
_NOT_SENT = ("run", "send", "server", "api_key")


def _send(args: argparse.Namespace, settings: Settings) -> None:
    arguments = {name: value for name, value in vars(args).items() if name not in _NOT_SENT}
    with _client(args, settings) as client:
        sent = args.send(client, **arguments)
    print(json.dumps(msgspec.to_builtins(sent), ensure_ascii=False))


def _through_api(args: argparse.Namespace, settings: Settings) -> None:
    """An action of the API's (cli_broadcasts.py, cli_webhooks.py), its answer printed as JSON."""
    with _client(args, settings) as client:
        answer = args.action(client, args)
    print(json.dumps(msgspec.to_builtins(answer), ensure_ascii=False))


def _client(args: argparse.Namespace, settings: Settings) -> Client:
    """A client of the server the command's flags (or the environment) name."""
    if not args.api_key:
        raise CommandError("an API key is needed: --api-key or KURIR_API_KEY")
    url = args.server or os.environ.get("KURIR_URL") or _local_url(settings)
    return Client(url, args.api_key)


def _pair(args: argparse.Namespace, settings: Settings) -> None:
    from kurir.pairing_cli import pair

    if not args.api_key:
        raise CommandError("an API key is needed: --api-key or KURIR_API_KEY")
    url = args.server or os.environ.get("KURIR_URL") or _local_url(settings)
    with Client(url, args.api_key) as client:
        if not pair(client, args.device, code=args.code, phone=args.phone):
            raise CommandError(f"device {args.device} was not paired")


def _local_url(settings: Settings) -> str:
    """The API of a ``kurir serve`` on this machine with the same settings."""
    # A server listening on every address is reached on loopback.
    everywhere = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104  # looked up, not bound
    host = everywhere.get(settings.host, settings.host)
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def _when(ms: int, zone: tzinfo) -> str:
    """A time as the API shows it (in KURIR_TIMEZONE), to the second."""
    return to_datetime(ms).astimezone(zone).isoformat(timespec="seconds")
