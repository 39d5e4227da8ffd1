"""What every dashboard page shares: the session, CSRF checks, notices and rendering.

A browser signs in with an API key once; from then on it holds only a
random session token in an HttpOnly, SameSite=Strict cookie (Secure over
TLS). Every form carries the session's CSRF token, checked in constant time
before anything is read from it; the sign-in form, made before there is a
session, carries one that is also in a cookie of its own (double submit).
"""

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kurir.api.context import ApiContext
from kurir.clock import now_ms
from kurir.dashboard.inprocess import ApiAnswer, InProcessApi
from kurir.store.dashboard_sessions import DashboardSession, find_session, token_hash

SESSION_COOKIE = "kurir_session"
SIGNIN_COOKIE = "kurir_signin"
#: How long a sign-in lasts; signing out, or revoking its key, ends it sooner.
SESSION_LIFETIME_MS = 12 * 3600 * 1000
#: Notices waiting for the next page of their session; a bound against growth.
_MAX_NOTICES = 10_000
_TEMPLATES = Path(__file__).parent / "templates"
#: Everything the pages load is the package's own; QR codes come as data URIs.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """A form refused before anything is read from it: a 403 or 413 page, nothing done."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


FORBIDDEN = Refused(
    403, "The form was sent without its security token; reload the page and try again."
)


async def read_form(request: Request, limit: int) -> FormData:
    """A posted form (the pages' are URL-encoded), read up to ``limit`` bytes as the API's are."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"The form is larger than {limit} bytes.")
    fields: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    )
    return FormData(fields)


class SignedIn:
    """A request of a signed-in browser: its session and the API as its account."""

    def __init__(self, request: Request, session: DashboardSession, token: str) -> None:
        self.request = request
        self.session = session
        self.token = token

    @property
    def account_id(self) -> int:
        return self.session.account_id


class Dashboard:
    """One process's dashboard: the API context, the in-process API, templates."""

    def __init__(self, api: ApiContext, calls: InProcessApi) -> None:
        self.api = api
        self.calls = calls
        self._notices: dict[str, tuple[str, str]] = {}
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
        )

    # -- sessions ------------------------------------------------------------------

    async def signed_in(self, request: Request) -> SignedIn | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 100:
            return None
        found = await self.api.store.read(find_session, token, now=now_ms())
        return None if found is None else SignedIn(request, found, token)

    async def form(self, who: SignedIn) -> FormData:
        """The posted form, once its CSRF token is the session's."""
        form = await read_form(who.request, self.api.settings.max_body_bytes)
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(
            sent.encode(), who.session.csrf_token.encode()
        ):
            raise FORBIDDEN
        return form

    async def call(self, who: SignedIn, method: str, path: str, **kwargs: Any) -> ApiAnswer:
        return await self.calls.call(who.account_id, method, path, **kwargs)

    # -- answers ---------------------------------------------------------------------

    def notify(self, who: SignedIn, text: str, *, error: bool = False) -> None:
        """A notice shown on the session's next page (this process's; a bound keeps it small)."""
        if len(self._notices) >= _MAX_NOTICES:
            self._notices.clear()
        self._notices[token_hash(who.token)] = ("error" if error else "ok", text)

    def outcome(self, who: SignedIn, answer: ApiAnswer, done: str, then: str) -> Response:
        """Back to ``then``, telling of ``done`` or of the API's refusal."""
        self.notify(who, done if answer.ok else answer.error, error=not answer.ok)
        return RedirectResponse(then, status_code=303)

    def page(self, who: SignedIn, template: str, status: int = 200, **values: Any) -> Response:
        notice = self._notices.pop(token_hash(who.token), None)
        return self.html(
            template,
            status,
            csrf=who.session.csrf_token,
            notice=notice,
            path=who.request.url.path,
            **values,
        )

    def html(self, template: str, status: int = 200, **values: Any) -> Response:
        body = self._templates.get_template(template).render(**values)
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def secure_cookie(request: Request) -> bool:
    """Cookies are Secure when the page was served over TLS."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)
