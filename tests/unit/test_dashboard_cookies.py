"""The dashboard's cookies: HttpOnly and SameSite=Strict always, Secure when served over TLS."""

import pytest
from starlette.requests import Request
from starlette.responses import Response

from kurir.dashboard.core import SESSION_COOKIE, set_cookie


def _request(scheme: str) -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "method": "GET",
            "path": "/",
            "headers": [(b"host", b"kurir.example")],
            "server": ("kurir.example", 443 if scheme == "https" else 80),
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(("scheme", "secure"), [("https", True), ("http", False)])
def test_the_session_cookie_is_secure_over_tls(scheme: str, secure: bool) -> None:
    response = Response()
    set_cookie(response, _request(scheme), SESSION_COOKIE, "token", 60)
    header = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in header.lower()
    assert ("secure" in attributes) is secure
