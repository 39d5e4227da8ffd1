"""Running Kurir: the API server (with or without the dispatcher) and the lone worker."""

import asyncio
import contextlib
import errno
import gc
import logging
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import tzinfo
from typing import TextIO

import msgspec
import uvicorn
from sqlalchemy.exc import IntegrityError

from kurir.api.app import create_app
from kurir.clock import now_ms
from kurir.config import Settings
from kurir.dispatch import Dispatcher, DispatchSettings
from kurir.dispatch.planner import BroadcastPlanner
from kurir.dispatch.webhook_deliverer import DeliverySettings, WebhookDeliverer
from kurir.domain.contacts import opt_out_words
from kurir.domain.keys import new_api_key
from kurir.domain.phone import normalise_phone
from kurir.domain.retry import DeliveryRetryPolicy, RetryPolicy
from kurir.http_guard import guarded_protocol
from kurir.metrics import METRICS
from kurir.sealing import secret_box
from kurir.store import Store, accounts
from kurir.store.migrate import upgrade_to_head_async
from kurir.store.postgres import CHANNEL, DELIVERIES_CHANNEL, Listener, on_new_messages
from kurir.transports import default_transport

log = logging.getLogger("kurir")


def dispatch_settings(settings: Settings, *, max_idle_s: float | None = None) -> DispatchSettings:
    return DispatchSettings(
        max_idle_s=max_idle_s,
        message_lease_ms=int(settings.message_lease_seconds * 1000),
        device_lease_ms=int(settings.device_lease_seconds * 1000),
        send_timeout_s=settings.send_timeout_seconds,
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            base_delay=settings.retry_base_seconds,
            max_delay=settings.retry_max_seconds,
        ),
        default_region=settings.default_region,
        reply_window_ms=round(settings.reply_window_seconds * 1000),
        opt_out_words=opt_out_words(settings.opt_out_words),
        allow_private_urls=settings.allow_private_urls,
        secrets=secret_box(settings.secret_key),
    )


def delivery_settings(settings: Settings, *, max_idle_s: float | None = None) -> DeliverySettings:
    delivery = DeliverySettings(
        per_endpoint=settings.webhook_concurrency,
        total_timeout_s=settings.webhook_timeout_seconds,
        retry=DeliveryRetryPolicy(
            base_delay=settings.webhook_retry_base_seconds,
            max_delay=settings.webhook_retry_max_seconds,
            deadline=settings.webhook_deadline_seconds,
        ),
        allow_private_urls=settings.allow_private_urls,
    )
    if max_idle_s is not None:
        delivery = msgspec.structs.replace(delivery, max_idle_s=max_idle_s)
    return delivery


def open_store(settings: Settings) -> Store:
    return Store(
        settings.database_url,
        pool_size=settings.database_pool_size,
        webhook_deadline_ms=round(settings.webhook_deadline_seconds * 1000),
    )


async def bootstrap(store: Store, settings: Settings, out: TextIO) -> None:
    """On an empty database: an account, a key (shown once) and a device to try sends on."""
    if await store.read(accounts.count_accounts) > 0:
        return
    key = settings.bootstrap_api_key or new_api_key()
    device_id = settings.bootstrap_device_id or secrets.token_hex(6)
    phone = normalise_phone(
        settings.bootstrap_device_phone,
        settings.default_region,
        field="KURIR_BOOTSTRAP_DEVICE_PHONE",
    )
    now = now_ms()
    transport = default_transport()
    try:
        await store.write(
            accounts.open_account,
            name="default",
            key=key,
            key_label="bootstrap",
            device={"public_id": device_id, "phone": phone, "transport": transport},
            now=now,
        )
    except IntegrityError:  # another process bootstrapped the same database first
        return
    url = f"http://{settings.host}:{settings.port}"
    out.write(
        f"\nKurir is set up: account 'default', a {transport} device and an API key.\n"
        "The key is shown this once; store it now.\n\n"
        f"  API key: {key}\n  device:  {device_id} ({transport}, {phone})\n\n"
        "Send a first message:\n\n"
        f"  curl -X POST {url}/send/button \\\n"
        f"    -H 'Authorization: {key}' \\\n"
        "    -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"device": "{device_id}", "phone": "628111111111", '
        '"message_header": "Header", "message": "Pilih salah satu:", '
        '"message_footer": "Footer", "buttons": ["Opsi 1", "Opsi 2", "Opsi 3"]}\'\n\n'
    )
    out.flush()


class ListenError(Exception):
    """The API's address cannot be listened on; the message names it."""


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, or `ListenError`.

    Taken before the database is touched: a first start whose port is in use
    would otherwise print the one-time API key and exit, and the next start,
    finding the account made, would never show it again. Listening (not only
    binding) makes a second process on the same port fail here too.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may take over the port from connections in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen()
    except OSError as error:
        sock.close()
        address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        hint = (
            "; another program is using it (choose another with KURIR_PORT or --port)"
            if error.errno == errno.EADDRINUSE
            else ""
        )
        raise ListenError(f"cannot listen on {address}: {error.strerror}{hint}") from None
    return sock


def listen_for_metrics(settings: Settings) -> socket.socket | None:
    """The metrics port's socket, taken with the API's (before the database), if one is set."""
    if not settings.metrics_port:
        return None
    return listen(settings.metrics_host, settings.metrics_port)


class _MetricsServer(uvicorn.Server):
    """A second server in the process: the main one (or the worker) handles the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving_metrics(
    sock: socket.socket | None, store: Store, settings: Settings
) -> AsyncIterator[None]:
    """``GET /metrics`` on its own socket while the block runs (nothing without a socket)."""
    if sock is None:
        yield
        return
    app = METRICS.app(store, worker_lease_ms=int(settings.device_lease_seconds * 1000))
    server = _MetricsServer(
        uvicorn.Config(
            app,
            log_level=settings.log_level,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            log_config=None,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics")
    log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def serve(settings: Settings) -> None:
    """The API on ``host:port``; with ``settings.dispatch`` also the dispatcher."""
    sock = listen(settings.host, settings.port)
    try:
        metrics_sock = listen_for_metrics(settings)
    except ListenError:
        sock.close()
        raise
    await upgrade_to_head_async(settings.database_url)
    store = open_store(settings)
    await bootstrap(store, settings, sys.stdout)
    dispatcher = Dispatcher(store, dispatch_settings(settings)) if settings.dispatch else None

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        store.start()
        if dispatcher is None:
            try:
                async with serving_metrics(metrics_sock, store, settings):
                    yield
            finally:
                await store.close()
            return
        store.on_accepted(dispatcher.notice_new_messages)
        async with (
            _dispatching(store, dispatcher, settings.zone, delivery_settings(settings)),
            serving_metrics(metrics_sock, store, settings),
        ):
            yield

    app = create_app(store, settings, running())
    _settle_garbage_collector()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        # In JSON, uvicorn's lines go through the root logger's JSON handler too.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        # Head deadline, connection ceiling and head limits (see kurir.http_guard).
        http=guarded_protocol(settings),
        server_header=False,
        # Kurir reads neither the client's address nor the scheme, so the
        # X-Forwarded-* rewriting uvicorn adds to every request is dropped.
        proxy_headers=False,
    )
    log.info(
        "serving on http://%s:%s (database: %s)",
        settings.host,
        settings.port,
        "sqlite" if store.is_sqlite else "postgresql",
    )
    await uvicorn.Server(config).serve(sockets=[sock])


def _settle_garbage_collector() -> None:
    """Keep full collections off the request path.

    Everything built at start-up (modules, the app, metadata) lives as long as
    the process; frozen, it is no longer scanned, and a larger young generation
    lets short-lived request objects die before they are ever promoted. Without
    this a full collection paused every request for 40 to 80 ms once a second
    under load.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


async def work(settings: Settings) -> None:
    """The dispatcher and the webhook deliverer alone, until SIGINT or SIGTERM."""
    metrics_sock = listen_for_metrics(settings)
    await upgrade_to_head_async(settings.database_url)
    store = open_store(settings)
    # On SQLite nothing tells a lone worker of new messages or deliveries
    # (PostgreSQL has LISTEN/NOTIFY): it looks every half second when otherwise idle.
    max_idle_s = SQLITE_WORKER_IDLE_S if store.is_sqlite else None
    dispatcher = Dispatcher(store, dispatch_settings(settings, max_idle_s=max_idle_s))
    deliveries = delivery_settings(settings, max_idle_s=max_idle_s)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    store.start()
    _settle_garbage_collector()
    async with (
        _dispatching(store, dispatcher, settings.zone, deliveries),
        serving_metrics(metrics_sock, store, settings),
    ):
        await stopped.wait()


SQLITE_WORKER_IDLE_S = 0.5


@contextlib.asynccontextmanager
async def _dispatching(
    store: Store, dispatcher: Dispatcher, zone: tzinfo, deliveries: DeliverySettings
) -> AsyncIterator[None]:
    """Run the dispatcher, the webhook deliverer and the broadcast planner for the block.

    On PostgreSQL, their wake-up listener too. The planner wakes the dispatcher
    for newly planned messages.
    """
    # One worker id: the dispatcher's heartbeat and liveness cover the deliverer's leases.
    deliverer = WebhookDeliverer(store, deliveries, worker_id=dispatcher.worker_id)
    store.on_deliveries_due(deliverer.notice_deliveries)
    listener = None
    if not store.is_sqlite:
        listener = Listener(
            store.database.url,
            {
                CHANNEL: on_new_messages(dispatcher.notice_new_messages),
                DELIVERIES_CHANNEL: lambda _payload: deliverer.notice_deliveries(),
            },
        )
        listener.start()
    tasks = [
        asyncio.create_task(dispatcher.run(), name="dispatcher"),
        asyncio.create_task(deliverer.run(), name="webhook-deliverer"),
    ]
    planner = BroadcastPlanner(store, zone, dispatcher.notice_new_messages)
    planning = asyncio.create_task(planner.run(), name="broadcast-planner")
    try:
        yield
    finally:
        planner.stop()
        await planning
        dispatcher.stop()
        deliverer.stop()
        await asyncio.gather(*tasks)
        if listener is not None:
            await listener.close()
        await store.close()
