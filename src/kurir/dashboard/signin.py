"""Signing in with an API key, and out.

The key is read once, from the sign-in form, and looked up by its hash as
the API does; the browser gets a session token, never the key.
"""

import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kurir.clock import now_ms
from kurir.dashboard.core import (
    FORBIDDEN,
    SESSION_COOKIE,
    SESSION_LIFETIME_MS,
    SIGNIN_COOKIE,
    Dashboard,
    SignedIn,
    new_token,
    read_form,
    set_cookie,
)
from kurir.domain.keys import hash_api_key, parse_authorization
from kurir.store.dashboard_sessions import end_session, open_session

#: Longer than any key Kurir makes; the API refuses the same.
_MAX_KEY = 256


async def home(dash: Dashboard, request: Request) -> Response:
    """The devices for a signed-in browser; the sign-in form for any other."""
    if await dash.signed_in(request) is not None:
        return RedirectResponse("/dashboard/devices", status_code=303)
    return _form(dash, request, error=None, status=200)


async def sign_in(dash: Dashboard, request: Request) -> Response:
    form = await read_form(request, dash.api.settings.max_body_bytes)
    sent, expected = form.get("csrf"), request.cookies.get(SIGNIN_COOKIE)
    if not (
        isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise FORBIDDEN
    raw = form.get("key")
    key = parse_authorization(raw) if isinstance(raw, str) else None
    token = new_token()
    session = None
    if key is not None and len(key) <= _MAX_KEY:
        session = await dash.api.store.write(
            open_session,
            key_hash=hash_api_key(key),
            token=token,
            csrf_token=new_token(),
            now=now_ms(),
            lifetime_ms=SESSION_LIFETIME_MS,
        )
    if session is None:
        return _form(dash, request, error="That API key is not valid (or was revoked).", status=401)
    response = RedirectResponse("/dashboard/devices", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, SESSION_LIFETIME_MS // 1000)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


async def sign_out(dash: Dashboard, who: SignedIn) -> Response:
    await dash.form(who)
    await dash.api.store.write(end_session, who.token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _form(dash: Dashboard, request: Request, *, error: str | None, status: int) -> Response:
    csrf = new_token()
    response = dash.html("signin.html", status, csrf=csrf, error=error)
    set_cookie(response, request, SIGNIN_COOKIE, csrf, 3600)
    return response
