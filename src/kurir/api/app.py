"""The Starlette application: routes, error handlers, and the process's lifecycle."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kurir.api.docs import documentation_routes
from kurir.api.errors import EXCEPTION_HANDLERS, error_response_for, internal_error
from kurir.api.routes import Routes
from kurir.config import Settings
from kurir.store import Store


def create_app(
    store: Store,
    settings: Settings,
    lifespan: contextlib.AbstractAsyncContextManager[None] | None = None,
) -> ASGIApp:
    """The HTTP API over ``store``; ``lifespan`` runs around serving (start, drain)."""
    routes = Routes(store, settings)

    @contextlib.asynccontextmanager
    async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
        if lifespan is None:
            yield
            return
        async with lifespan:
            yield

    app = Starlette(
        routes=[
            Route("/send/button", routes.send_button, methods=["POST"]),
            Route(
                "/message/{message_id}",
                _by_method(GET=routes.get_message, DELETE=routes.cancel_message),
                methods=["GET", "DELETE"],
            ),
            Route("/device/list", routes.list_devices, methods=["GET"]),
            Route("/sandbox/{device}/reply", routes.sandbox_reply, methods=["POST"]),
            Route("/sandbox/{device}/messages", routes.sandbox_deliveries, methods=["GET"]),
            Route("/healthz", routes.health, methods=["GET"]),
            *documentation_routes(),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(InternalErrors)],
        lifespan=_lifespan,
    )
    # "/send/button/" is a typo to report, not a 307 a POST client may not follow.
    app.router.redirect_slashes = False
    return SendButtonFastPath(app, routes.send_button)


Handler = Callable[[Request], Awaitable[Response]]


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


def _by_method(**handlers: Handler) -> Handler:
    """One endpoint for a path that has a handler per method.

    Starlette answers a 405 from the first route whose path matches, naming
    only that route's methods in ``Allow``; one route per path names them all.
    """

    async def endpoint(request: Request) -> Response:
        # HEAD is Starlette's addition to every GET route, answered as GET.
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


class SendButtonFastPath:
    """``POST /send/button`` straight to its handler; everything else to Starlette.

    It is the endpoint that takes the load. Starlette's router, its two
    exception middlewares and the endpoint wrapper cost about an eighth of its
    CPU (measured under load); the handler and its error mapping are the same
    ones the router would have used.
    """

    def __init__(self, app: Starlette, handler: Handler) -> None:
        self._app = app
        self._handler = handler

    @property
    def routes(self) -> list[BaseRoute]:
        """Every route, the fast one included (the API document is checked against them)."""
        return self._app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/send/button" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._handler(request)
        except Exception as error:  # mapped exactly as Starlette's handlers map it
            response = await error_response_for(request, error)
        await response(scope, receive, send)
