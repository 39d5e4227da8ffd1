"""The kurir command: run the gateway, administer accounts, keys and devices, send.

Administration (`kurir.cli_admin`) works on the database directly (it is the
operator's tool); send, broadcasts, contacts and webhooks go through the HTTP
API like any client.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import msgspec

from kurir import cli_admin
from kurir.api.types import SendResponse
from kurir.cli_admin import CommandError
from kurir.cli_broadcasts import add_broadcast_commands
from kurir.cli_webhooks import add_webhook_commands
from kurir.client import Client, KurirError, MessageQuery
from kurir.config import Settings, SettingsError, load_settings
from kurir.domain.errors import ValidationError
from kurir.store.database import DatabaseURLError
from kurir.transports import (
    default_transport,
    transport_names,
)

# Settings that have a flag of their own: the database URL is every command's,
# and keys on the command line would show in every `ps`, so they stay in the environment.
_SERVE_FLAGS = tuple(
    field.name
    for field in msgspec.structs.fields(Settings)
    if field.name not in ("database_url", "dispatch", "bootstrap_api_key", "secret_key")
)


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
    sub.set_defaults(run=cli_admin.admin(cli_admin.accounts_create))
    accounts_cmd.add_parser("list", help="list accounts").set_defaults(
        run=cli_admin.admin(cli_admin.accounts_list)
    )

    keys_cmd = commands.add_parser("keys", help="manage API keys").add_subparsers(
        required=True, metavar="ACTION"
    )
    sub = keys_cmd.add_parser("create", help="create an API key (shown once)")
    sub.add_argument("--account", required=True, help="account name or id")
    sub.add_argument("--label", default="")
    sub.set_defaults(run=cli_admin.admin(cli_admin.keys_create))
    sub = keys_cmd.add_parser("list", help="list an account's keys")
    sub.add_argument("--account", required=True)
    sub.set_defaults(run=cli_admin.admin(cli_admin.keys_list))
    sub = keys_cmd.add_parser("revoke", help="revoke a key by its id")
    sub.add_argument("--account", required=True)
    sub.add_argument("key_id", type=int)
    sub.set_defaults(run=cli_admin.admin(cli_admin.keys_revoke))

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
    sub.set_defaults(run=cli_admin.admin(cli_admin.devices_add))
    sub = devices_cmd.add_parser(
        "pair", parents=[server_flags], help="link a WhatsApp Web device: show its QR code"
    )
    sub.add_argument("device")
    sub.add_argument("--code", action="store_true", help="pair by a code typed on the phone")
    sub.add_argument("--phone", help="with --code: the number to link (default: the device's)")
    sub.set_defaults(run=_pair)
    sub = devices_cmd.add_parser("list", help="list devices")
    sub.add_argument("--account")
    sub.set_defaults(run=cli_admin.admin(cli_admin.devices_list))
    sub = devices_cmd.add_parser("remove", help="remove a device; its waiting messages fail")
    sub.add_argument("--account", required=True)
    sub.add_argument("device")
    sub.set_defaults(run=cli_admin.admin(cli_admin.devices_remove))

    messages_cmd = commands.add_parser("messages", help="inspect messages").add_subparsers(
        required=True, metavar="ACTION"
    )
    sub = messages_cmd.add_parser("show", help="show a message and its life so far")
    sub.add_argument("message_id")
    sub.set_defaults(run=cli_admin.admin(cli_admin.messages_show))
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

    print(
        f"kurir: using the database at {cli_admin.database_name(settings.database_url)}",
        file=sys.stderr,
    )
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
