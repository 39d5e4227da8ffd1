"""``kurir doctor``: what is wrong with this installation, and what to do about it.

It reads; it changes nothing (it does not even migrate, unlike the other
administrative commands: a schema behind is one of the things it reports).
Each finding is ``ok``, ``warn`` (worth a look) or ``fix`` (something does
not work until it is fixed); the command exits 1 when any finding is ``fix``.
Nothing it prints holds a secret: a database URL is shown without its
password, a device's config only by whether it can be read.
"""

import asyncio
import enum
from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path

import msgspec
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from kurir.clock import now_ms, to_datetime
from kurir.config import Settings, SettingsError, load_settings
from kurir.sealing import secret_box
from kurir.store import Store, accounts, webhook_endpoints
from kurir.store.database import is_sqlite
from kurir.store.gauges import read_gauges, state_label
from kurir.store.migrate import current_revision, head_revision
from kurir.transports import TransportConfigError
from kurir.transports.registry import read_config, transport_names

#: Device states a transport reports when it cannot send until a person acts.
_NEEDS_A_PERSON = {
    "unpaired": "pair it: kurir devices pair {device} (or POST /device/scan/{device})",
    "pairing_expired": "pair it again: kurir devices pair {device}",
    "logged_out": "it was logged out on the phone; pair it again: kurir devices pair {device}",
    "error": "see its state in GET /device/list, then fix its config or remove it",
}


class Level(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FIX = "fix"


class Finding(msgspec.Struct, frozen=True):
    level: Level
    what: str
    #: What to do about it; empty when there is nothing to do.
    todo: str = ""


def check_settings(database_url: str | None) -> tuple[Settings | None, list[Finding]]:
    try:
        settings = load_settings(database_url=database_url)
    except SettingsError as error:
        return None, [Finding(Level.FIX, f"settings: {error}", "correct that variable")]
    found = [Finding(Level.OK, "settings: every KURIR_* variable can be used")]
    if settings.allow_private_urls:
        found.append(
            Finding(
                Level.WARN,
                "settings: KURIR_ALLOW_PRIVATE_URLS is true, so customers' URLs may reach "
                "this network's private addresses",
                "unset it outside development",
            )
        )
    if not settings.secret_key:
        found.append(
            Finding(
                Level.WARN,
                "settings: KURIR_SECRET_KEY is not set, so devices' secrets are stored as given",
                "set it (openssl rand -base64 32) before adding devices with secrets",
            )
        )
    return settings, found


async def check_database(settings: Settings) -> list[Finding]:
    """The database, its schema, the devices and the webhook endpoints."""
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    store = Store(settings.database_url, pool_size=1)
    try:
        try:
            revision = await store.read(current_revision)
        except Exception as error:  # any failure to open it is the finding
            reason = getattr(error, "orig", None) or error
            return [
                Finding(
                    Level.FIX,
                    f"database: cannot open {shown}: {reason}",
                    "check KURIR_DATABASE_URL and that the database server runs",
                )
            ]
        head = head_revision(settings.database_url)
        if revision is None:
            return [
                Finding(Level.FIX, f"database: {shown} has no Kurir schema", "run: kurir migrate")
            ]
        if revision != head:
            return [
                Finding(
                    Level.FIX,
                    f"database: the schema is at revision {revision}, this Kurir needs {head}",
                    "run: kurir migrate",
                )
            ]
        found = [Finding(Level.OK, f"database: {shown}, schema at the current revision {head}")]
        found += await store.read(_devices_and_workers, settings)
        found += await store.read(_webhook_endpoints, settings)
        return found
    finally:
        await store.close()


def _devices_and_workers(connection: Connection, settings: Settings) -> list[Finding]:
    now = now_ms()
    lease_ms = int(settings.device_lease_seconds * 1000)
    found = []
    gauges = read_gauges(connection, now=now, worker_lease_ms=lease_ms)
    devices = accounts.list_devices(connection, account_id=None)
    if gauges.live_workers == 0 and devices:
        found.append(
            Finding(
                Level.WARN,
                "workers: none is running, so nothing is sent",
                "start kurir serve (or kurir worker)",
            )
        )
    else:
        found.append(Finding(Level.OK, f"workers: {gauges.live_workers} running"))
    secrets = secret_box(settings.secret_key)
    for device in devices:
        name = f"device {device.public_id} ({device.transport})"
        if device.transport not in transport_names():
            found.append(
                Finding(
                    Level.FIX,
                    f"{name}: no such transport in this Kurir ({', '.join(transport_names())})",
                    f"remove it: kurir devices remove --account {device.account_id} "
                    f"{device.public_id}",
                )
            )
            continue
        try:
            read_config(
                device.transport,
                device.config,
                default_region=settings.default_region,
                secrets=secrets,
            )
        except TransportConfigError as error:
            found.append(
                Finding(
                    Level.FIX,
                    f"{name}: its config cannot be used: {error}",
                    "set the KURIR_SECRET_KEY it was sealed with, or add the device again",
                )
            )
            continue
        held = device.lease_until is not None and device.lease_until > now
        label = state_label(device.state, held=held)
        todo = _NEEDS_A_PERSON.get(label, "")
        if todo:
            detail = device.state or label
            found.append(
                Finding(Level.FIX, f"{name}: {detail}", todo.format(device=device.public_id))
            )
        else:
            found.append(Finding(Level.OK, f"{name}: {label}"))
    return found


def _webhook_endpoints(connection: Connection, settings: Settings) -> list[Finding]:
    now = now_ms()
    found = []
    zone = settings.zone
    for account in accounts.list_accounts(connection):
        for endpoint in webhook_endpoints.list_endpoints(
            connection, account_id=account.id, now=now
        ):
            name = f"webhook {endpoint.public_id} of account {account.name!r}"
            redeliver = f"kurir webhooks redeliver {endpoint.public_id} --since <time>"
            if endpoint.disabled_reason is not None:
                found.append(
                    Finding(
                        Level.FIX,
                        f"{name}: disabled by Kurir: {endpoint.disabled_reason}",
                        f"fix the receiver, then: kurir webhooks update {endpoint.public_id} "
                        f"--enable (and {redeliver})",
                    )
                )
            elif endpoint.failing_since is not None:
                since = _when(endpoint.failing_since, zone)
                found.append(
                    Finding(
                        Level.FIX,
                        f"{name}: every delivery has failed since {since} "
                        f"({endpoint.pending} waiting, {endpoint.dead} dead)",
                        f"see kurir webhooks deliveries {endpoint.public_id}, fix the receiver",
                    )
                )
            elif endpoint.dead:
                found.append(
                    Finding(
                        Level.WARN,
                        f"{name}: {endpoint.dead} dead deliveries",
                        f"if they matter: {redeliver}",
                    )
                )
            elif not endpoint.enabled:
                found.append(Finding(Level.OK, f"{name}: paused by its owner"))
            else:
                found.append(Finding(Level.OK, f"{name}: delivering"))
    return found


def _when(ms: int, zone: tzinfo) -> str:
    return to_datetime(ms).astimezone(zone).isoformat(timespec="seconds")


def run_doctor(database_url: str | None, print_line: Callable[[str], None] = print) -> int:
    """Every check, printed a line each (with what to do indented below); the exit code.

    ``database_url`` is ``--database-url``, over KURIR_DATABASE_URL.
    """
    settings, found = check_settings(database_url)
    if settings is not None:
        missing = _missing_sqlite_file(settings.database_url)
        if missing is not None:
            found.append(missing)
        else:
            found += asyncio.run(check_database(settings))
    return report(found, print_line)


def _missing_sqlite_file(database_url: str) -> Finding | None:
    """A SQLite database that is not there (opening it would create it)."""
    url = make_url(database_url)
    if not is_sqlite(database_url) or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    if path.exists():
        return None
    return Finding(
        Level.FIX,
        f"database: no database at {path.resolve()}",
        "run: kurir migrate (or set KURIR_DATABASE_URL to the database in use)",
    )


def report(found: Sequence[Finding], print_line: Callable[[str], None]) -> int:
    for finding in found:
        print_line(f"[{finding.level}] {finding.what}")
        if finding.todo:
            print_line(f"       -> {finding.todo}")
    to_fix = sum(finding.level == Level.FIX for finding in found)
    warnings = sum(finding.level == Level.WARN for finding in found)
    if to_fix:
        print_line(f"{to_fix} to fix, {warnings} to look at")
        return 1
    print_line(f"nothing to fix ({warnings} to look at)" if warnings else "nothing to fix")
    return 0
