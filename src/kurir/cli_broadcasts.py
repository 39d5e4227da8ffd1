"""``kurir broadcasts …`` and ``kurir contacts …``: campaigns and contacts, through the HTTP API.

Each action is a function of a `Client` and the parsed arguments returning
the API's answer, which the command prints as JSON (see ``cli._through_api``).
Receivers and contacts come from a CSV file with a header row (``phone``,
``message``, ``name``, ``opt1`` … ``opt7``) or a JSON array of objects with
those fields, as the API takes them.
"""

import argparse
import csv
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import msgspec

from kurir.client import BroadcastCreate, Client, ContactsCreate, Customer, Receiver

#: What an action returns: an answer of the API.
Answer = msgspec.Struct
Action = Callable[[Client, argparse.Namespace], Answer]

_CONTACT_FIELDS = ("phone", "name", *(f"opt{n}" for n in range(1, 8)))
_RECEIVER_FIELDS = (*_CONTACT_FIELDS, "message")


def add_broadcast_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    server: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace, Any], None],
) -> None:
    """The ``broadcasts`` and ``contacts`` commands; ``server``: the flags naming the server."""
    broadcasts = commands.add_parser(
        "broadcasts", help="create and steer broadcasts through the HTTP API"
    ).add_subparsers(required=True, metavar="ACTION")

    def action(
        parent: "argparse._SubParsersAction[argparse.ArgumentParser]",
        name: str,
        act: Action,
        help: str,
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, parents=[server], help=help, description=help)
        sub.set_defaults(run=run, action=act)
        return sub

    sub = action(broadcasts, "create", _create, "create a broadcast from a file of receivers")
    sub.add_argument(
        "--device", default="default", help="the device that sends (default: the first)"
    )
    sub.add_argument("--title", required=True)
    recipients = sub.add_mutually_exclusive_group(required=True)
    recipients.add_argument(
        "--receivers",
        type=_receivers,
        metavar="FILE",
        help="CSV (header: phone,message,name,opt1..opt7) or a JSON array; - for stdin",
    )
    recipients.add_argument("--group", help="a contact group, each sent --message")
    sub.add_argument("--message", help="the text (with spintax) of receivers without their own")
    sub.add_argument(
        "--date-execute", help="when to start: Y-m-d H:i:s in the server's time zone (default: now)"
    )
    sub.add_argument("--active-start", help="the daily window's start, H:i:s")
    sub.add_argument("--active-end", help="the daily window's end, H:i:s")
    sub.add_argument("--interval-from", type=float, help="least seconds between two (default 5)")
    sub.add_argument("--interval-to", type=float, help="most seconds between two (default 15)")
    sub.add_argument("--media", type=_file_bytes, metavar="FILE", help="a file sent to each")
    sub.add_argument("--caption", help="the media's caption (with spintax)")
    sub.add_argument(
        "--international-only",
        action="store_true",
        help="refuse national numbers instead of adding the default country code",
    )
    sub.add_argument(
        "--skip-invalid", action="store_true", help="leave invalid receivers out instead"
    )
    sub.add_argument("--idempotency-key", help="a retry with the same key creates nothing twice")
    sub = action(broadcasts, "list", _list, "list the account's broadcasts, newest first")
    _page_flags(sub)
    by_id: list[tuple[str, Action, str]] = [
        ("show", lambda c, args: c.get_broadcast(args.id), "show a broadcast and its totals"),
        ("pause", lambda c, args: c.pause_broadcast(args.id), "stop sending; resume carries on"),
        ("resume", lambda c, args: c.resume_broadcast(args.id), "send again, planned from now"),
        ("cancel", lambda c, args: c.cancel_broadcast(args.id), "stop for good: the rest fails"),
    ]
    for name, act, help in by_id:
        sub = action(broadcasts, name, act, help)
        sub.add_argument("id", help="the broadcast's id")
    sub = action(broadcasts, "messages", _messages, "a broadcast's messages, newest first")
    sub.add_argument("id", help="the broadcast's id")
    _page_flags(sub)

    contacts = commands.add_parser(
        "contacts", help="manage contacts through the HTTP API"
    ).add_subparsers(required=True, metavar="ACTION")
    sub = action(contacts, "add", _add_contacts, "add contacts, from a file or one by flags")
    given = sub.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--file",
        type=_contacts,
        metavar="FILE",
        help="CSV (header: phone,name,opt1..opt7) or a JSON array; - for stdin",
    )
    given.add_argument("--phone", help="one contact's number")
    for field in _CONTACT_FIELDS[1:]:
        sub.add_argument(f"--{field}", help="with --phone" if field != "name" else None)
    sub.add_argument("--group", help="the group they join")
    sub.add_argument("--international-only", action="store_true")
    sub.add_argument(
        "--update-existing",
        action="store_true",
        help="update contacts already in the group (default: leave them)",
    )
    sub.add_argument("--skip-invalid", action="store_true")
    sub = action(contacts, "list", _list_contacts, "list contacts, newest first")
    sub.add_argument("--group")
    _page_flags(sub)
    sub = action(contacts, "remove", _remove_contact, "forget a number")
    sub.add_argument("phone")
    sub.add_argument("--group", help="from this group only (default: every group)")


def _page_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int)
    parser.add_argument("--before", help="the next_cursor of the previous page")


def _create(client: Client, args: argparse.Namespace) -> Answer:
    create: BroadcastCreate = {
        "device": args.device,
        "title": args.title,
        "receivers": args.receivers,
        "group": args.group,
        "message": args.message,
        "date_execute": args.date_execute,
        "active_start": args.active_start,
        "active_end": args.active_end,
        "interval_from": args.interval_from,
        "interval_to": args.interval_to,
        "media": args.media,
        "caption": args.caption,
        "generate_receiver": False if args.international_only else None,
        "skip_invalid": True if args.skip_invalid else None,
        "idempotency_key": args.idempotency_key,
    }
    return client.create_broadcast(**create)


def _list(client: Client, args: argparse.Namespace) -> Answer:
    return client.list_broadcasts(limit=args.limit, before=args.before)


def _messages(client: Client, args: argparse.Namespace) -> Answer:
    return client.list_messages(broadcast=args.id, limit=args.limit, before=args.before)


def _add_contacts(client: Client, args: argparse.Namespace) -> Answer:
    customers: list[Customer] = args.file
    if customers is None:
        one: dict[str, str] = {
            field: getattr(args, field)
            for field in _CONTACT_FIELDS
            if getattr(args, field) is not None
        }
        customers = [cast(Customer, one)]
    options: ContactsCreate = {
        "group": args.group,
        "generate_prefix_number": False if args.international_only else None,
        "filter_duplicate": False if args.update_existing else None,
        "skip_invalid": True if args.skip_invalid else None,
    }
    return client.create_contacts(customers, **options)


def _list_contacts(client: Client, args: argparse.Namespace) -> Answer:
    return client.list_contacts(group=args.group, limit=args.limit, before=args.before)


def _remove_contact(client: Client, args: argparse.Namespace) -> Answer:
    return client.delete_contact(args.phone, group=args.group)


# -- files --------------------------------------------------------------------------------------


def _file_bytes(name: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {name}: {error.strerror}") from None


def _receivers(name: str) -> list[Receiver]:
    return cast(list[Receiver], _rows(name, _RECEIVER_FIELDS))


def _contacts(name: str) -> list[Customer]:
    return cast(list[Customer], _rows(name, _CONTACT_FIELDS))


def _rows(name: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """The file's rows, each with a phone and only the fields the API takes.

    A JSON array when the file starts with ``[``, else CSV with a header row.
    Empty cells are left out (the API's default applies); the phone is text.
    """
    try:
        text = _file_bytes(name).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"{name} is not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            found = msgspec.json.decode(text)
        except msgspec.DecodeError as error:
            raise argparse.ArgumentTypeError(f"{name} is not valid JSON: {error}") from None
        where = "item"
    else:
        found = list(csv.DictReader(io.StringIO(text)))
        where = "line"
    rows = []
    for index, item in enumerate(found):
        # CSV's first row is its header: a row's line is its index plus 2.
        at = f"{where} {index + 2 if where == 'line' else index}"
        if not isinstance(item, dict):
            raise argparse.ArgumentTypeError(f"{name}, {at}: not an object")
        unknown = sorted(str(key) for key in item if key not in fields)
        if unknown:
            raise argparse.ArgumentTypeError(
                f"{name}, {at}: unknown field {unknown[0]!r} (known: {', '.join(fields)})"
            )
        row = {key: str(value) for key, value in item.items() if value not in (None, "")}
        if "phone" not in row:
            raise argparse.ArgumentTypeError(f"{name}, {at}: phone is missing")
        rows.append(row)
    if not rows:
        raise argparse.ArgumentTypeError(f"{name} holds no rows")
    return rows
