"""The Starlette application: routes, error handlers, and the process's lifecycle."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kurir.api.broadcasts import BroadcastRoutes
from kurir.api.contacts import ContactRoutes
from kurir.api.context import ApiContext
from kurir.api.docs import documentation_routes
from kurir.api.errors import EXCEPTION_HANDLERS, error_response_for, internal_error
from kurir.api.messages import MessageListRoutes
from kurir.api.routes import Routes, SendKind, send_kinds
from kurir.api.webhooks import WebhookRoutes
from kurir.config import Settings
from kurir.dashboard import dashboard_routes
from kurir.metrics import METRICS
from kurir.store import Store
from kurir.transports import all_transports


def create_app(
    store: Store,
    settings: Settings,
    lifespan: contextlib.AbstractAsyncContextManager[None] | None = None,
) -> ASGIApp:
    """The HTTP API over ``store``; ``lifespan`` runs around serving (start, drain)."""
    api = ApiContext(store, settings)
    routes = Routes(api)
    webhooks = WebhookRoutes(api)
    sends = {path: _bound(routes.send, endpoint) for path, endpoint in send_kinds(settings).items()}
    # The dashboard calls this same application in process, once it is built.
    built: list[ASGIApp] = []

    @contextlib.asynccontextmanager
    async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
        if lifespan is None:
            yield
            return
        async with lifespan:
            yield

    app = Starlette(
        routes=[
            *(Route(path, handler, methods=["POST"]) for path, handler in sends.items()),
            Route(
                "/message/{message_id}",
                _by_method(GET=routes.get_message, DELETE=routes.cancel_message),
                methods=["GET", "DELETE"],
            ),
            Route("/device/list", routes.list_devices, methods=["GET"]),
            Route("/messages/inbound", routes.list_inbound, methods=["GET"]),
            Route("/messages/inbound/{message_id}/media", routes.inbound_media, methods=["GET"]),
            Route(
                "/webhooks",
                _by_method(GET=webhooks.list_endpoints, POST=webhooks.create),
                methods=["GET", "POST"],
            ),
            Route(
                "/webhooks/{webhook_id}",
                _by_method(GET=webhooks.get, PATCH=webhooks.update, DELETE=webhooks.delete),
                methods=["GET", "PATCH", "DELETE"],
            ),
            Route("/webhooks/{webhook_id}/rotate-secret", webhooks.rotate_secret, methods=["POST"]),
            Route("/webhooks/{webhook_id}/deliveries", webhooks.list_deliveries, methods=["GET"]),
            Route(
                "/webhooks/{webhook_id}/deliveries/{delivery_id}",
                webhooks.get_delivery,
                methods=["GET"],
            ),
            Route("/webhooks/{webhook_id}/redeliver", webhooks.redeliver, methods=["POST"]),
            *(route for transport in all_transports() for route in transport.http_routes(api)),
            # Broadcasts and contacts.
            *BroadcastRoutes(api).routes(),
            *ContactRoutes(api).routes(),
            *MessageListRoutes(api).routes(),
            Route("/healthz", routes.health, methods=["GET"]),
            *documentation_routes(),
            # The dashboard, at / (its pages under /dashboard).
            *dashboard_routes(api, lambda: built[0]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(InternalErrors)],
        lifespan=_lifespan,
    )
    # "/send/button/" is a typo to report, not a 307 a POST client may not follow.
    app.router.redirect_slashes = False
    built.append(SendFastPath(app, sends))
    return built[0]


Handler = Callable[[Request], Awaitable[Response]]
_COUNTS = METRICS.counts


class InternalErrors:
    """Answers an exception that no handler took with `internal_error`, and ends it there.

    Starlette's ServerErrorMiddleware would answer it as well, but then raises
    it again for the server to log: uvicorn logged every 500 a second time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, sending)
        except Exception as error:
            response = await internal_error(Request(scope), error)
            if not started:  # else the client gets a cut-off answer; the log has the error
                await response(scope, receive, send)


def _bound(send: Callable[[Request, SendKind], Awaitable[Response]], endpoint: SendKind) -> Handler:
    async def handler(request: Request) -> Response:
        return await send(request, endpoint)

    return handler


def _by_method(**handlers: Handler) -> Handler:
    """One endpoint for a path that has a handler per method.

    Starlette answers a 405 from the first route whose path matches, naming
    only that route's methods in ``Allow``; one route per path names them all.
    """

    async def endpoint(request: Request) -> Response:
        # HEAD is Starlette's addition to every GET route, answered as GET.
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


class SendFastPath:
    """``POST`` to a send endpoint straight to its handler; everything else to Starlette.

    The sends are the endpoints that take the load. Starlette's router, its
    two exception middlewares and the endpoint wrapper cost about an eighth
    of their CPU (measured under load); the handlers and their error mapping
    are the same ones the router would have used.
    """

    def __init__(self, app: Starlette, sends: dict[str, Handler]) -> None:
        self._app = app
        self._sends = sends
        # Counted by template, not path: a path holds ids, one series each.
        self._templates: dict[object, str] = {
            route.endpoint: route.path for route in app.routes if isinstance(route, Route)
        }

    @property
    def routes(self) -> list[BaseRoute]:
        """Every route, the fast ones included (the API document is checked against them)."""
        return self._app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._sends.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self._counted(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as error:  # mapped exactly as Starlette's handlers map it
            response = await error_response_for(request, error)
        _COUNTS.requests[scope["path"], response.status_code] += 1
        await response(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette's answer, counted by the template of the route that gave it."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500  # what the client gets if nothing is sent

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            # The router put the matched route's endpoint in the scope.
            route = self._templates.get(scope.get("endpoint"), "unmatched")
            _COUNTS.requests[route, status] += 1
