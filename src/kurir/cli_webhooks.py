"""``kurir webhooks …``: an account's webhook endpoints, through the HTTP API as ``send`` is.

Each action is a function of a `Client` and the parsed arguments returning
the API's answer, which the command prints as JSON (see ``cli._through_api``).
"""

import argparse
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from kurir.client import Client, WebhookChanges
from kurir.domain.events import EVENTS, DeliveryStatus

#: What an action returns: an answer of the API, or a list of them.
Answer = msgspec.Struct | list[Any]
Action = Callable[[Client, argparse.Namespace], Answer]


def add_webhook_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    server: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace, Any], None],
) -> None:
    """The ``webhooks`` command and its actions; ``server`` holds the flags naming the server."""
    actions = commands.add_parser(
        "webhooks", help="manage webhook endpoints through the HTTP API"
    ).add_subparsers(required=True, metavar="ACTION")

    def action(name: str, act: Action, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[server], help=help, description=help)
        sub.set_defaults(run=run, action=act)
        return sub

    sub = action("add", _add, "register an endpoint; its signing secret is shown this once")
    sub.add_argument("webhook_url", metavar="URL", help="where events are posted")
    _event_flag(sub, required=True)
    sub.add_argument(
        "--device", action="append", dest="devices", help="only this device's events (repeatable)"
    )
    action("list", lambda client, _args: client.list_webhooks(), "list the account's endpoints")
    sub = action("show", lambda client, args: client.get_webhook(args.id), "show an endpoint")
    sub.add_argument("id")
    sub = action("update", _update, "change, pause (--disable) or resume (--enable) an endpoint")
    sub.add_argument("id")
    sub.add_argument("--webhook-url", help="a new URL")
    _event_flag(sub, required=False)
    devices = sub.add_mutually_exclusive_group()
    devices.add_argument("--device", action="append", dest="devices", help="repeatable")
    devices.add_argument("--all-devices", action="store_true", help="every device's events")
    enabled = sub.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_true", default=None)
    enabled.add_argument("--disable", dest="enabled", action="store_false")
    sub = action(
        "remove", lambda client, args: client.delete_webhook(args.id), "delete an endpoint"
    )
    sub.add_argument("id")
    sub = action(
        "rotate-secret",
        _rotate,
        "give an endpoint a new secret (shown once); the old one signs for a day more",
    )
    sub.add_argument("id")
    sub = action("deliveries", _deliveries, "an endpoint's delivery log, or one delivery")
    sub.add_argument("id")
    sub.add_argument("delivery", nargs="?", help="one delivery's id: show it alone")
    sub.add_argument("--limit", type=int)
    sub.add_argument("--before", help="the next_cursor of the previous page")
    sub.add_argument("--status", choices=list(DeliveryStatus))
    sub = action("redeliver", _redeliver, "send a delivery, or every dead one since a time, again")
    sub.add_argument("id")
    which = sub.add_mutually_exclusive_group(required=True)
    which.add_argument("--delivery", help="one delivery's id")
    which.add_argument("--since", help="every dead one since: Unix seconds or ISO 8601")


def _event_flag(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--event",
        action="append",
        dest="events",
        required=required,
        choices=EVENTS,
        help="an event to hear of (repeatable)",
    )


def _add(client: Client, args: argparse.Namespace) -> Answer:
    created = client.create_webhook(args.webhook_url, args.events, args.devices)
    _secret_shown()
    return created


def _update(client: Client, args: argparse.Namespace) -> Answer:
    changes: WebhookChanges = {}
    if args.webhook_url is not None:
        changes["url"] = args.webhook_url
    if args.events is not None:
        changes["events"] = args.events
    if args.all_devices:
        changes["devices"] = None
    elif args.devices is not None:
        changes["devices"] = args.devices
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    return client.update_webhook(args.id, **changes)


def _rotate(client: Client, args: argparse.Namespace) -> Answer:
    rotated = client.rotate_webhook_secret(args.id)
    _secret_shown()
    return rotated


def _deliveries(client: Client, args: argparse.Namespace) -> Answer:
    if args.delivery is not None:
        return client.get_webhook_delivery(args.id, args.delivery)
    return client.list_webhook_deliveries(
        args.id, limit=args.limit, before=args.before, status=args.status
    )


def _redeliver(client: Client, args: argparse.Namespace) -> Answer:
    return client.redeliver_webhook(args.id, delivery=args.delivery, since=args.since)


def _secret_shown() -> None:
    print("kurir: the secret is shown this once; store it now", file=sys.stderr)
