"""The kurir command's administration: accounts, keys, devices and messages, on the database.

The operator's tool works on the database directly, migrated first, and never
creates one (`admin`); `kurir.cli` wires these into its commands.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from pathlib import Path

import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from kurir.clock import now_ms, to_datetime
from kurir.config import Settings, load_settings
from kurir.domain.devices import DeviceProfile, check_device_id
from kurir.domain.keys import MAX_KEY_LABEL, new_api_key
from kurir.domain.phone import normalise_phone
from kurir.sealing import secret_box
from kurir.store import DATABASE_ERRORS, Store, accounts, reading
from kurir.store.database import is_sqlite
from kurir.store.records import Account
from kurir.transports import (
    TransportConfigError,
    check_credentials,
    config_to_store,
    read_config,
)
from kurir.transports.registry import transport_class

#: What opening a database that cannot be used raises (asyncpg: OSError when nobody answers).
_OPEN_ERRORS: tuple[type[Exception], ...] = (*DATABASE_ERRORS, OSError)


class CommandError(Exception):
    """A command that cannot be carried out; its message is printed as is."""


#: An administrative command: what it does with the store and its arguments.
AdminCommand = Callable[[Store, argparse.Namespace], Awaitable[None]]


def admin(command: AdminCommand) -> Callable[[argparse.Namespace, Settings], None]:
    """Run an administrative command against an existing database, migrated first.

    It never creates one: run from another folder, the default relative
    SQLite path would otherwise leave an empty database there and show nothing.
    """

    def run(args: argparse.Namespace, settings: Settings) -> None:
        from kurir.store.migrate import current_revision, upgrade_to_head_async

        url = settings.database_url
        name = database_name(url)
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


def database_name(url: str) -> str:
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


async def accounts_create(store: Store, args: argparse.Namespace) -> None:
    name = args.name.strip()
    if not name or len(name) > 100:
        raise CommandError("an account name is 1 to 100 characters")
    if await store.read(accounts.find_account, name) is not None:
        raise CommandError(f"account {name!r} exists already")
    account = await store.write(accounts.create_account, name=name, now=now_ms())
    print(f"account {account.id} {account.name!r} created")


async def accounts_list(store: Store, _args: argparse.Namespace) -> None:
    zone = load_settings().zone
    for account in await store.read(accounts.list_accounts):
        print(f"{account.id}\t{account.name}\t{_when(account.created_at, zone)}")


async def keys_create(store: Store, args: argparse.Namespace) -> None:
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


async def keys_list(store: Store, args: argparse.Namespace) -> None:
    account = await _account(store, args.account)
    zone = load_settings().zone
    for key in await store.read(accounts.list_api_keys, account_id=account.id):
        state = f"revoked {_when(key.revoked_at, zone)}" if key.revoked_at else "active"
        print(f"{key.id}\t{key.hint}\t{key.label}\t{state}")


async def keys_revoke(store: Store, args: argparse.Namespace) -> None:
    account = await _account(store, args.account)
    if not await store.write(
        accounts.revoke_api_key, account_id=account.id, key_id=args.key_id, now=now_ms()
    ):
        raise CommandError(f"account {account.name!r} has no active key {args.key_id}")
    print(f"key {args.key_id} revoked")


async def devices_add(store: Store, args: argparse.Namespace) -> None:
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


async def devices_list(store: Store, args: argparse.Namespace) -> None:
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


async def devices_remove(store: Store, args: argparse.Namespace) -> None:
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


async def messages_show(store: Store, args: argparse.Namespace) -> None:
    """The message as its owner sees it through GET /message/{id}, whoever owns it."""
    from kurir.api.views import message_data

    view = await store.read(reading.get_message, args.message_id, account_id=None)
    if view is None:
        raise CommandError(f"no message {args.message_id}")
    shown = msgspec.to_builtins(message_data(view, load_settings().zone))
    print(json.dumps(shown, indent=2, ensure_ascii=False))


def _when(ms: int, zone: tzinfo) -> str:
    """A time as the API shows it (in KURIR_TIMEZONE), to the second."""
    return to_datetime(ms).astimezone(zone).isoformat(timespec="seconds")
