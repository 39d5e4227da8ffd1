"""The API's own description: ``GET /openapi.json`` and the page at ``GET /docs``.

The page and its script and style ship inside the package (``static/``) and
load nothing from anywhere else, so the documentation works on a machine
without internet access, and its Content-Security-Policy says so to the
browser.
"""

from pathlib import Path

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from kurir.api.openapi import build_document

STATIC = Path(__file__).parent / "static"
#: Where the page's script and style are served (the page names them relative to itself).
ASSETS_PATH = "/docs/static"
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def documentation_routes() -> list[BaseRoute]:
    """The document, built once here and served as the same bytes; the page; its assets."""
    document = msgspec.json.encode(build_document())
    page = (STATIC / "docs.html").read_bytes()

    async def openapi_json(_request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def docs_page(_request: Request) -> Response:
        return Response(page, media_type="text/html", headers=_PAGE_HEADERS)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        Mount(ASSETS_PATH, StaticFiles(directory=STATIC)),
    ]
