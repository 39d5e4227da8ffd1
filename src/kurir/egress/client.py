"""`Egress`: every HTTP request Kurir makes on a customer's behalf goes through one.

It speaks httpcore directly rather than through an ``httpx.AsyncClient``: a
client would keep cookies across customers and take proxies from the
environment (a proxy would connect to addresses this module never checked),
and Kurir needs none of its conveniences. httpx only parses URLs here.

One `Egress` per process holds one connection pool. A pooled connection was
checked when it was made, so reusing it is safe however DNS answers later.
"""

import asyncio
import base64
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Self

import httpcore
import httpx
import msgspec

from kurir.egress.errors import (
    AddressRefused,
    EgressError,
    EgressTimeout,
    InvalidURL,
    PermanentEgressError,
    RedirectRefused,
    TooLarge,
    TransientEgressError,
)
from kurir.egress.pinning import PinningBackend, Resolver, os_reason, system_resolver
from kurir.egress.rules import parse_url, redact

#: How many redirects `Egress.fetch` follows before giving up.
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Fetched(msgspec.Struct, frozen=True, kw_only=True):
    """A fetched resource; ``body`` is read only for a 2xx status (empty otherwise)."""

    status: int
    #: Names in lower case; a repeated header's values joined with ", ".
    headers: dict[str, str]
    body: bytes
    #: The URL that answered, after redirects, as it is (show it with `redact`).
    final_url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Posted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a POST: its status whatever it is, and the start of its body."""

    status: int
    headers: dict[str, str]
    #: At most the caller's ``keep_bytes``; the rest was never read.
    body_start: bytes
    #: Seconds from the start of the request to the end of ``body_start``.
    elapsed: float


class Egress:
    """HTTP requests to customers' URLs: only to public addresses, within limits of time and size.

    ``allow_private`` turns the address check off (``KURIR_ALLOW_PRIVATE_URLS``,
    for development and tests). ``resolver`` answers DNS questions; tests give
    one that answers what they need.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self._allow_private = allow_private
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=PinningBackend(resolver=resolver, allow_private=allow_private),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        follow_redirects: bool,
        connect_timeout: float,
        total_timeout: float,
    ) -> Fetched:
        """GET ``url``; a 2xx body over ``max_bytes`` raises `TooLarge`.

        With ``follow_redirects``, up to `MAX_REDIRECTS` redirects are followed,
        each target checked like ``url``, and never from https to http.
        ``total_timeout`` bounds everything, redirects and body included.
        """
        first = parse_url(url, allow_private=self._allow_private)
        target, label, redirects = first, redact(first), 0
        async with _total(label, total_timeout):
            while True:
                async with self._exchange(
                    "GET", target, label, connect_timeout=connect_timeout
                ) as response:
                    location = _header(response, b"location")
                    if not (
                        follow_redirects
                        and response.status in _REDIRECT_STATUSES
                        and location is not None
                    ):
                        body = b""
                        if 200 <= response.status < 300:
                            body = await _read(response, max_bytes, over_limit_fails=True)
                        return Fetched(
                            status=response.status,
                            headers=_headers(response),
                            body=body,
                            final_url=str(target),
                        )
                    if redirects == MAX_REDIRECTS:
                        raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects")
                    target = self._redirect(target, location)
                redirects += 1
                label = f"{redact(first)} redirected to {redact(target)}"

    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        keep_bytes: int,
        connect_timeout: float,
        total_timeout: float,
    ) -> Posted:
        """POST ``body`` to ``url``; any status is an answer, a redirect is not followed.

        Only the first ``keep_bytes`` of the answer's body are read; then the
        connection is closed, so a huge or endless answer costs nothing.
        """
        target = parse_url(url, allow_private=self._allow_private)
        label = redact(target)
        started = time.monotonic()
        async with (
            _total(label, total_timeout),
            self._exchange(
                "POST", target, label, connect_timeout=connect_timeout, body=body, headers=headers
            ) as response,
        ):
            body_start = await _read(response, keep_bytes, over_limit_fails=False)
            return Posted(
                status=response.status,
                headers=_headers(response),
                body_start=body_start,
                elapsed=time.monotonic() - started,
            )

    def _redirect(self, source: httpx.URL, location: str) -> httpx.URL:
        try:
            joined = source.join(location)
        except httpx.InvalidURL as error:
            raise RedirectRefused(f"redirect to an unusable URL ({error})") from error
        try:
            target = parse_url(str(joined), allow_private=self._allow_private)
        except AddressRefused as error:
            raise AddressRefused(f"redirect to {redact(joined)}: {error.message}") from error
        except InvalidURL as error:
            raise RedirectRefused(f"redirect to {redact(joined)}: {error.message}") from error
        if source.scheme == "https" and target.scheme == "http":
            raise RedirectRefused(f"redirect from https to http refused ({redact(target)})")
        return target

    @contextlib.asynccontextmanager
    async def _exchange(
        self,
        method: str,
        url: httpx.URL,
        label: str,
        *,
        connect_timeout: float,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[httpcore.Response]:
        """One request and its streamed response, failures classified and named by ``label``."""
        request_headers = {
            "Host": url.netloc.decode("ascii"),
            "User-Agent": "Kurir",
            # The byte limits count what arrives, and a compressed body would hide a bigger one.
            "Accept-Encoding": "identity",
            **_basic_auth(url),
            **(headers or {}),
        }
        try:
            async with self._pool.stream(
                method,
                httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=list(request_headers.items()),
                content=body,
                # Only the connect timeout is httpcore's; the total one is `_total`'s.
                extensions={"timeout": {"connect": connect_timeout}},
            ) as response:
                yield response
        except EgressError as error:
            raise type(error)(f"{label}: {error.message}") from error
        except httpcore.ConnectTimeout as error:  # the TLS handshake
            raise EgressTimeout(f"{label}: no connection within {connect_timeout:g} s") from error
        except httpcore.ConnectError as error:  # the TLS handshake
            raise TransientEgressError(f"{label}: {_tls_reason(error)}") from error
        except httpcore.NetworkError as error:
            raise TransientEgressError(f"{label}: connection lost ({os_reason(error)})") from error
        except httpcore.LocalProtocolError as error:
            raise PermanentEgressError(
                f"{label}: the request is not valid HTTP ({error})"
            ) from error
        except httpcore.ProtocolError as error:
            raise TransientEgressError(
                f"{label}: the server closed the connection or answered with invalid HTTP"
            ) from error


@contextlib.asynccontextmanager
async def _total(label: str, seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as error:
        raise EgressTimeout(f"{label}: no complete answer within {seconds:g} s") from error


async def _read(response: httpcore.Response, limit: int, *, over_limit_fails: bool) -> bytes:
    """Up to ``limit`` bytes of the body; more is `TooLarge`, or cut if not ``over_limit_fails``."""
    declared = _header(response, b"content-length")
    if over_limit_fails and declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is {declared} bytes, over the limit of {limit} bytes")
    body = bytearray()
    async for chunk in response.aiter_stream():
        body += chunk
        if over_limit_fails and len(body) > limit:
            raise TooLarge(f"the body is over the limit of {limit} bytes")
        if not over_limit_fails and len(body) >= limit:
            break  # the rest stays unread: closing the response closes the connection
    return bytes(body[:limit])


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _headers(response: httpcore.Response) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in response.headers:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


def _basic_auth(url: httpx.URL) -> dict[str, str]:
    # A relative redirect keeps the credentials (resolving it keeps the userinfo);
    # an absolute one carries its own, usually none.
    if not url.userinfo:
        return {}
    pair = f"{url.username}:{url.password}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}


def _tls_reason(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or 'unknown reason'})"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect ({os_reason(error)})"
