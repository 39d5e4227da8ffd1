"""The Starlette application: routes, error handlers, and the process's lifecycle."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from kurir.api.errors import EXCEPTION_HANDLERS
from kurir.api.routes import Routes
from kurir.config import Settings
from kurir.store import Store


def create_app(
    store: Store,
    settings: Settings,
    lifespan: contextlib.AbstractAsyncContextManager[None] | None = None,
) -> Starlette:
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
            Route("/message/{message_id}", routes.get_message, methods=["GET"]),
            Route("/message/{message_id}", routes.cancel_message, methods=["DELETE"]),
            Route("/device/list", routes.list_devices, methods=["GET"]),
            Route("/sandbox/{device}/reply", routes.sandbox_reply, methods=["POST"]),
            Route("/sandbox/{device}/messages", routes.sandbox_deliveries, methods=["GET"]),
            Route("/healthz", routes.health, methods=["GET"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=_lifespan,
    )
    # "/send/button/" is a typo to report, not a 307 a POST client may not follow.
    app.router.redirect_slashes = False
    return app
