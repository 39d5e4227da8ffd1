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

import jinja2
from starlette.datastructures import FormData
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


class Forbidden(Exception):
    """A form without its session's CSRF token; answered 403, nothing done."""


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
        form = await who.request.form()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(
            sent.encode(), who.session.csrf_token.encode()
        ):
            raise Forbidden
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
