"""The dashboard: server-rendered pages for people, at ``/`` of the API's server.

Each page is a plain user of the API (called in process, see `inprocess`)
or of the store's own read functions; it holds no rules of its own.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from kurir.api.context import ApiContext
from kurir.dashboard import devices, keys, messages, sandbox, send, signin, webhooks
from kurir.dashboard.core import Dashboard, Refused, SignedIn
from kurir.dashboard.inprocess import InProcessApi

Page = Callable[[Dashboard, SignedIn], Awaitable[Response]]
#: Where the pages are (beside ``/``, the sign-in page), and their assets.
PREFIX = "/dashboard"
ASSETS_PATH = PREFIX + "/static"


def is_page(path: str) -> bool:
    """Whether a route's path is the dashboard's, not the API's."""
    return path == "/" or path.startswith(PREFIX + "/")


def dashboard_routes(api: ApiContext, app: Callable[[], ASGIApp]) -> list[BaseRoute]:
    """The pages, bound to one API process; ``app`` is the API they call."""
    dash = Dashboard(api, InProcessApi(app))

    def guarded(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = await dash.signed_in(request)
            if who is None:
                return RedirectResponse("/", status_code=303)
            try:
                return await page(dash, who)
            except Refused as refused:
                return dash.html("refused.html", refused.status, reason=refused.reason)

        return endpoint

    async def home(request: Request) -> Response:
        return await signin.home(dash, request)

    async def sign_in(request: Request) -> Response:
        try:
            return await signin.sign_in(dash, request)
        except Refused as refused:
            return dash.html("refused.html", refused.status, reason=refused.reason)

    pages: list[tuple[str, str, Page]] = [
        ("/dashboard/signout", "POST", signin.sign_out),
        *devices.PAGES,
        *messages.PAGES,
        *send.PAGES,
        *sandbox.PAGES,
        *webhooks.PAGES,
        *keys.PAGES,
    ]
    static = Path(__file__).parent / "static"
    return [
        Route("/", home, methods=["GET"]),
        Route("/dashboard/signin", sign_in, methods=["POST"]),
        *(Route(path, guarded(page), methods=[method]) for path, method, page in pages),
        Mount(ASSETS_PATH, StaticFiles(directory=static)),
    ]
