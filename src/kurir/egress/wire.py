"""HTTP/1.1 on asyncio for `Egress`: one exchange at a time per connection, kept alive.

Why not httpcore, which Kurir used before: a profile of the webhook
deliverer put half of its time per delivery in httpcore's pool bookkeeping
(every request walks every pooled connection, several times, under locks),
and its per-request layers cost several times what the exchange does. Kurir
needs little of HTTP: a request with a body it already holds, an answer of
bounded size read whole, keep-alive and TLS. So this module speaks that much
on an `asyncio.Protocol`, with httptools (llhttp, the parser Node.js and
uvicorn use) reading the answers: chunked, sized or ended by the close.

What it does not do, on purpose: pipelining, HTTP/2, proxies, cookies,
compression (``Accept-Encoding: identity`` keeps byte limits honest).
"""

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import httptools

from kurir.egress.errors import EgressError, PermanentEgressError, TooLarge, TransientEgressError

#: The most an answer's status line and headers may take.
MAX_HEAD_BYTES = 64 * 1024
#: The most headers an answer may have.
MAX_HEADERS = 100


def _invalid_http() -> TransientEgressError:
    return TransientEgressError("the server closed the connection or answered with invalid HTTP")


#: (scheme, host, port): connections are kept and reused per origin.
Origin = tuple[str, str, int]


class BodyRule:
    """How much of an answer's body to read, by its status.

    ``limit`` bytes at most. Past them, ``over_limit_fails`` raises
    `TooLarge`; otherwise reading stops and the connection is closed, the
    rest unread. A declared ``Content-Length`` over a failing limit is
    refused before a byte of the body is read.
    """

    __slots__ = ("limit", "over_limit_fails")

    def __init__(self, limit: int, *, over_limit_fails: bool) -> None:
        self.limit = limit
        self.over_limit_fails = over_limit_fails


class Answer:
    """An answer: its status, headers (names in lower case, in order) and the body read."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), stripped."""
        for key, value in self.headers:
            if key == name:
                return value.strip()
        return None


class ConnectionLost(TransientEgressError):
    """The connection ended before the answer did; ``answered`` if any of it had come."""

    def __init__(self, message: str, *, answered: bool = True) -> None:
        super().__init__(message)
        self.answered = answered


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: `exchange` sends a request and reads its answer."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._result: asyncio.Future[Answer] | None = None
        self._rule = BodyRule(0, over_limit_fails=False)
        self._rule_of: Callable[[int], BodyRule] = lambda _status: self._rule
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._head_bytes = 0
        self._body = bytearray()
        self._headers_done = False
        self._sized = False  # a Content-Length or chunked answer; else it ends with the close
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._result is None or self._result.done():
            # Bytes nobody asked for: an idle connection is of no more use.
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            # A limit a callback below enforced; its error is the context.
            cause = error.__context__
            self._fail(cause if isinstance(cause, EgressError) else _invalid_http())
        except httptools.HttpParserUpgrade:
            self._fail(TransientEgressError("the server switched protocols"))
        except httptools.HttpParserError:
            self._fail(_invalid_http())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._result is None or self._result.done():
            return
        if self._headers_done and not self._sized:
            self._finish()  # an answer without a length ends with its connection
            return
        answered = self._status != 0
        reason = "the server closed the connection" if exc is None else "connection lost"
        if answered:
            reason += " in the middle of its answer"
        self._result.set_exception(ConnectionLost(reason, answered=answered))

    # -- httptools' callbacks -----------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._head_bytes += len(status)
        self._check_head()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))
        self._check_head()

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self._headers.clear()
            self._head_bytes = 0
            return
        self._status = status
        self._headers_done = True
        encoding = self._header("transfer-encoding")
        length = self._header("content-length")
        self._sized = length is not None or (encoding is not None and "chunked" in encoding)
        assert self._result is not None
        self._rule = rule = self._rule_of(status)
        declared = int(length) if length is not None and length.isdigit() else 0
        if rule.over_limit_fails and declared > rule.limit:
            raise TooLarge(f"the body is {length} bytes, over the limit of {rule.limit} bytes")

    def on_body(self, chunk: bytes) -> None:
        self._body += chunk
        rule = self._rule
        if len(self._body) > rule.limit:
            if rule.over_limit_fails:
                raise TooLarge(f"the body is over the limit of {rule.limit} bytes")
            self._finish(cut=True)

    def on_message_complete(self) -> None:
        if self._headers_done:
            self._finish()

    # -- use ----------------------------------------------------------------------

    async def exchange(self, request: bytes, rule_of: Callable[[int], BodyRule]) -> Answer:
        """Send ``request`` (a whole HTTP/1.1 request) and read its answer as ``rule_of`` says."""
        assert self._transport is not None
        self._result = asyncio.get_running_loop().create_future()
        self._rule_of = rule_of
        self._status, self._head_bytes, self._sized, self._headers_done = 0, 0, False, False
        self._headers = []
        self._body = bytearray()
        self.reusable = False
        self._transport.write(request)
        try:
            return await self._result
        finally:
            if not self.reusable:
                self.close()

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        if self._transport is not None:
            self._transport.close()

    def _finish(self, *, cut: bool = False) -> None:
        assert self._result is not None
        if self._result.done():
            return
        body = bytes(self._body[: self._rule.limit])
        self.reusable = not cut and not self.closed and self._parser.should_keep_alive()
        self._result.set_result(Answer(self._status, self._headers, body))

    def _fail(self, error: BaseException) -> None:
        if self._result is not None and not self._result.done():
            self._result.set_exception(error)
        self.close()

    def _check_head(self) -> None:
        if self._head_bytes > MAX_HEAD_BYTES or len(self._headers) > MAX_HEADERS:
            raise TransientEgressError(
                f"the answer's head is over {MAX_HEAD_BYTES // 1024} KiB or {MAX_HEADERS} headers"
            )

    def _header(self, name: str) -> str | None:
        for key, value in self._headers:
            if key == name:
                return value.strip().lower()
        return None


#: Opens a connection to an origin within a timeout (seconds).
Opener = Callable[[Origin, float], Awaitable[Connection]]


class ConnectionPool:
    """Connections kept alive per origin, reused newest first, closed after ``keepalive_s`` idle.

    ``max_in_use`` bounds the connections exchanging at once; more requests
    wait for one. At most ``max_idle`` connections in all are kept idle.
    """

    def __init__(
        self, open_connection: Opener, *, max_in_use: int, max_idle: int, keepalive_s: float
    ) -> None:
        self._open = open_connection
        self._slots = asyncio.Semaphore(max_in_use)
        self._idle: defaultdict[Origin, deque[Connection]] = defaultdict(deque)
        self._idle_count = 0
        self._max_idle = max_idle
        self._keepalive_s = keepalive_s

    async def request(
        self,
        origin: Origin,
        request: bytes,
        rule_of: Callable[[int], BodyRule],
        *,
        connect_timeout: float,
    ) -> Answer:
        """One exchange on a kept connection, or a new one.

        A kept connection the server closed while it was idle fails before
        any answer: the request is sent again, once, on a new connection.
        """
        async with self._slots:
            kept = self._take_idle(origin)
            if kept is not None:
                try:
                    return await self._exchange(origin, kept, request, rule_of)
                except ConnectionLost as error:
                    if error.answered:
                        raise
            connection = await self._open(origin, connect_timeout)
            return await self._exchange(origin, connection, request, rule_of)

    async def _exchange(
        self,
        origin: Origin,
        connection: Connection,
        request: bytes,
        rule_of: Callable[[int], BodyRule],
    ) -> Answer:
        answer = await connection.exchange(request, rule_of)
        if connection.reusable:
            self._keep(origin, connection)
        return answer

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        oldest_kept = time.monotonic() - self._keepalive_s
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if not connection.closed and connection.idle_since > oldest_kept:
                return connection
            connection.close()
        return None

    def _keep(self, origin: Origin, connection: Connection) -> None:
        if self._idle_count >= self._max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle[origin].append(connection)
        self._idle_count += 1

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0


def encode_request(
    method: str,
    path: str,
    head: list[tuple[str, str]],
    headers: Mapping[str, str] | None,
    body: bytes | None,
) -> bytes:
    """A whole HTTP/1.1 request: ``head``'s headers, then ``headers``, which are checked.

    A header of ``headers`` replaces one of ``head`` of the same name; one
    that would break the framing is refused.
    """
    headers = headers or {}
    given = {name.lower() for name in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in head if name.lower() not in given)
    for name, value in headers.items():
        if not name or not name.isascii() or any(c in name for c in ":\r\n\0 \t"):
            raise PermanentEgressError(f"the request is not valid HTTP (header name {name!r})")
        if any(c in value for c in "\r\n\0"):
            raise PermanentEgressError(f"the request is not valid HTTP (the {name} header)")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("\r\n")
    request = "\r\n".join(lines).encode("latin-1", errors="replace")
    return request + body if body else request
