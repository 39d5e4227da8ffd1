"""`Egress`: every HTTP request Kurir makes on a customer's behalf goes through one.

It speaks HTTP/1.1 itself (`kurir.egress.wire`) rather than through an HTTP
client library: a client would keep cookies across customers and take
proxies from the environment (a proxy would connect to addresses this module
never checked), and Kurir needs none of its conveniences, only speed. httpx
only parses URLs here.

One `Egress` per process holds one connection pool. A pooled connection was
checked when it was made, so reusing it is safe however DNS answers later.
"""

import asyncio
import base64
import functools
import ssl
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import httpx
import msgspec

from kurir.egress.errors import (
    AddressRefused,
    EgressError,
    EgressTimeout,
    InvalidURL,
    RedirectRefused,
)
from kurir.egress.pinning import PinningOpener, Resolver, system_resolver
from kurir.egress.rules import parse_url, redact
from kurir.egress.wire import Answer, BodyRule, ConnectionPool, encode_request

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
        # Webhooks go to few URLs, again and again: each is parsed once.
        self._targets = functools.lru_cache(maxsize=1024)(self._target)
        self._pool = ConnectionPool(
            PinningOpener(
                resolver=resolver,
                allow_private=allow_private,
                ssl_context=ssl_context or httpx.create_ssl_context(),
            ),
            max_in_use=max_connections,
            max_idle=max_connections,
            keepalive_s=5.0,
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
        self._pool.close()

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
        target, redirects = first, 0

        def label() -> str:
            if target is first:
                return redact(first)
            return f"{redact(first)} redirected to {redact(target)}"

        def body_rule(status: int) -> BodyRule:
            if 200 <= status < 300:
                return BodyRule(max_bytes, over_limit_fails=True)
            return BodyRule(0, over_limit_fails=False)  # not read: the connection is closed

        async with _TotalTimeout(label, total_timeout):
            while True:
                answer = await self._exchange(
                    "GET", _Target(target), label, body_rule, connect_timeout=connect_timeout
                )
                location = answer.header("location")
                redirected = answer.status in _REDIRECT_STATUSES and location is not None
                if not (follow_redirects and redirected):
                    return Fetched(
                        status=answer.status,
                        headers=_headers(answer),
                        body=answer.body,
                        final_url=str(target),
                    )
                assert location is not None  # redirected
                try:
                    if redirects == MAX_REDIRECTS:
                        raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects")
                    target = self._redirect(target, location)
                except EgressError as error:
                    raise type(error)(f"{label()}: {error.message}") from error
                redirects += 1

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
        return await self.request(
            "POST",
            url,
            body=body,
            headers=headers,
            keep_bytes=keep_bytes,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: Mapping[str, str],
        keep_bytes: int,
        connect_timeout: float,
        total_timeout: float,
    ) -> Posted:
        """`post`'s rules for any method: an API's answer, error bodies included, is wanted."""
        target = self._targets(url)
        started = time.monotonic()
        keep = BodyRule(keep_bytes, over_limit_fails=False)
        async with _TotalTimeout(target.label, total_timeout):
            answer = await self._exchange(
                method,
                target,
                target.label,
                lambda _status: keep,
                connect_timeout=connect_timeout,
                body=body,
                headers=headers,
            )
        return Posted(
            status=answer.status,
            headers=_headers(answer),
            body_start=answer.body,
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

    def _target(self, url: str) -> "_Target":
        return _Target(parse_url(url, allow_private=self._allow_private))

    async def _exchange(
        self,
        method: str,
        target: "_Target",
        label: Callable[[], str],
        body_rule: Callable[[int], BodyRule],
        *,
        connect_timeout: float,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request and its answer, failures named by ``label()``."""
        try:
            request = encode_request(method, target.path, target.head, headers, body)
            return await self._pool.request(
                target.origin, request, body_rule, connect_timeout=connect_timeout
            )
        except EgressError as error:
            raise type(error)(f"{label()}: {error.message}") from error


class _Target:
    """A parsed URL with what every request to it carries, kept for the next request."""

    __slots__ = ("head", "origin", "path", "url")

    def __init__(self, url: httpx.URL) -> None:
        self.url = url
        self.origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        self.path = url.raw_path.decode("ascii")
        self.head = [
            ("Host", url.netloc.decode("ascii")),
            ("User-Agent", "Kurir"),
            # The byte limits count what arrives, and a compressed body would hide a bigger one.
            ("Accept-Encoding", "identity"),
            *_basic_auth(url).items(),
        ]

    def label(self) -> str:
        """The URL as failures name it: without credentials or query."""
        return redact(self.url)


class _TotalTimeout:
    """``asyncio.timeout`` whose expiry is an `EgressTimeout` naming the URL.

    A class rather than a generator-based context manager: it wraps every
    request, and this is the cheaper of the two.
    """

    __slots__ = ("_label", "_seconds", "_timeout")

    def __init__(self, label: Callable[[], str], seconds: float) -> None:
        self._label = label
        self._seconds = seconds
        self._timeout = asyncio.timeout(seconds)

    async def __aenter__(self) -> None:
        await self._timeout.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self._timeout.__aexit__(exc_type, exc, traceback)
        except TimeoutError as error:
            message = f"{self._label()}: no complete answer within {self._seconds:g} s"
            raise EgressTimeout(message) from error


def _headers(answer: Answer) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, text in answer.headers:
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


def _basic_auth(url: httpx.URL) -> dict[str, str]:
    # A relative redirect keeps the credentials (resolving it keeps the userinfo);
    # an absolute one carries its own, usually none.
    if not url.userinfo:
        return {}
    pair = f"{url.username}:{url.password}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
