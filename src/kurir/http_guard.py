"""The HTTP/1.1 protocol ``kurir serve`` runs: uvicorn's httptools protocol, with limits.

uvicorn with httptools times out only a keep-alive connection idle after a
response, and limits nothing before one: 20,000 sockets that sent nothing
made every other request fail for 22 s, with nothing logged; a 50 MB header
was read whole into memory and answered 200, and so were 100,000 headers.
This protocol adds, per process:

* a deadline for each request head (``KURIR_HEADER_TIMEOUT_SECONDS``): from
  the connection's start, or a later request's first byte, to the end of its
  headers. A connection that misses it is closed, whether it sent nothing or
  dribbles its head byte by byte;
* a ceiling on open connections (``KURIR_MAX_CONNECTIONS``), kept below the
  descriptor limit: one more is closed as soon as it is accepted, so the
  clients already connected go on being served;
* limits on a head's size (``KURIR_MAX_HEADER_BYTES``; a head still arriving
  is cut off once more than that has come, so no more than that and one read
  is ever held) and on its number of headers (``KURIR_MAX_HEADERS``): over
  either, 431 in the API's error shape naming the limit, and the connection
  ends;
* an answer sent before its request's body has all come (a 401 is, as the
  key is checked first) ends the connection: uvicorn read the rest of the
  body for as long as the client dribbled it, a hold no deadline reached.

Each of these, and each malformed request (uvicorn logged every one), is
logged at most once per ``LOG_EVERY_S`` per kind, with how many there were:
a flood cannot flood the log.

Why this rather than another server. The bare endpoint of
``benchmarks/bare_app.py`` was served by each, pinned to one core, in
alternating 3 s closed-loop rounds on the shared 2-core machine, and the
server's CPU time per request compared (other work on the machine disturbs
it far less than requests per second, which favours whichever server has
more threads to claim a contended core). Against uvicorn with httptools:

* this protocol: 1.02 to 1.05 (medians of 5 to 8 rounds, in five runs),
  1 to 3 µs of about 60 a request there;
* granian 2.8 (Rust, hyper; one worker, one runtime thread, uvloop): 1.06.
  It has a head deadline and head limits, but no connection ceiling, a fixed
  limit of 100 headers, a 431 with an empty body, no log of any of it, and it
  runs the application in processes of its own, not inside ``kurir serve``;
* uvicorn with h11: 3.0, as it parses in Python. It has no deadline and no
  ceiling, and its incomplete-event size bounds only a head still arriving
  in pieces: a 40 KB head sent at once was answered 200.

Only this protocol gives the four protections asked for (deadline, ceiling,
both head limits), and at the least cost.
"""

import asyncio
import logging
import sys
from typing import Any, ClassVar, NamedTuple

import httptools
import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from kurir.config import Settings

log = logging.getLogger("kurir.http")

#: A refusal of each kind is logged at most this often, with a count.
LOG_EVERY_S = 10.0
#: How long, and for how many bytes, a refused connection's input is drained (see _Drain).
DRAIN_S = 2.0
DRAIN_BYTES = 4 * 1024 * 1024
#: Descriptors the process needs besides its connections: the database's
#: connections and files, the listening socket, the event loop, logs.
RESERVED_DESCRIPTORS = 128


class RefusalLog:
    """One kind of refusal: the first of a quiet spell is logged at once, the
    rest are counted and logged every ``every_s`` while they go on."""

    def __init__(self, what: str, every_s: float = LOG_EVERY_S) -> None:
        self.what = what
        self.every_s = every_s
        self.count = 0
        self._window: asyncio.TimerHandle | None = None

    def add(self, loop: asyncio.AbstractEventLoop, count: int = 1) -> None:
        self.count += count
        if self._window is None:
            self._report(loop)

    def _report(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.count == 0:
            self._window = None
            return
        log.warning("%s: %d in the last %g s", self.what, self.count, self.every_s)
        self.count = 0
        self._window = loop.call_later(self.every_s, self._report, loop)


class _Refusal(NamedTuple):
    """An answer that ends a connection, and the log it is counted in."""

    log: RefusalLog
    status: int
    body: bytes

    @classmethod
    def of(cls, status: int, message: str, log_what: str) -> "_Refusal":
        # The API's error shape (kurir.api.errors), encoded once.
        body = msgspec.json.encode({"status": "error", "message": message})
        return cls(RefusalLog(log_what), status, body)


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a head over a limit."""


class _Guard:
    """What the connections of one server process share: limits, the open
    connections, the sweep that enforces the head deadline, the refusal logs."""

    def __init__(self, settings: Settings, max_connections: int) -> None:
        self.header_timeout_s = settings.header_timeout_seconds
        self.max_connections = max_connections
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.open: set[GuardedHttpProtocol] = set()
        self._sweeping = False
        self.timed_out = RefusalLog(
            "closed connections without a complete request head after "
            f"{self.header_timeout_s:g} s (KURIR_HEADER_TIMEOUT_SECONDS)"
        )
        self.over_ceiling = RefusalLog(
            f"refused connections over {max_connections} open (KURIR_MAX_CONNECTIONS)"
        )
        self.too_large = _Refusal.of(
            431,
            f"Request headers larger than {self.max_header_bytes} bytes",
            f"answered 431 to request heads over {self.max_header_bytes} bytes "
            "(KURIR_MAX_HEADER_BYTES)",
        )
        self.too_many = _Refusal.of(
            431,
            f"More than {self.max_headers} request headers",
            f"answered 431 to requests with over {self.max_headers} headers (KURIR_MAX_HEADERS)",
        )
        self.malformed = _Refusal.of(
            400, "Invalid HTTP request", "answered 400 to malformed HTTP requests"
        )

    def opened(self, connection: "GuardedHttpProtocol", loop: asyncio.AbstractEventLoop) -> None:
        self.open.add(connection)
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(self._sweep_every_s, self._sweep, loop)

    @property
    def _sweep_every_s(self) -> float:
        # A head is cut off between the timeout and a quarter of it (at most
        # a second, at least 50 ms) later.
        return min(1.0, max(0.05, self.header_timeout_s / 4))

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close every connection whose head began more than the timeout ago.

        One sweep for all connections rather than a timer each: a request
        then costs only noting the time, where a uvloop timer armed and
        cancelled costs about 1.4 µs, as much as all the rest of this
        protocol adds to a request.
        """
        cutoff = loop.time() - self.header_timeout_s
        late = [c for c in self.open if c.head_since is not None and c.head_since <= cutoff]
        for connection in late:
            connection.head_timed_out()
        if late:
            self.timed_out.add(loop, len(late))
        if self.open:
            loop.call_later(self._sweep_every_s, self._sweep, loop)
        else:
            self._sweeping = False


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring."""

    guard: ClassVar[_Guard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        #: When the head being waited for began (loop time); None while none is.
        self.head_since: float | None = None
        #: The size of the read the head began in, and of the reads after it:
        #: together at least the head's size, so a small sum needs no counting.
        self._head_first_read = 0
        self._head_later_reads = 0
        self._read = 0
        self._refusal: _Refusal | None = None
        self._accepted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's own signature
        guard = self.guard
        if len(guard.open) >= guard.max_connections:
            transport.abort()
            guard.over_ceiling.add(self.loop)
            return
        self._accepted = True
        super().connection_made(transport)
        guard.opened(self, self.loop)
        self.head_since = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._accepted:
            return
        self.guard.open.discard(self)
        self.head_since = None
        super().connection_lost(exc)

    def head_timed_out(self) -> None:
        self.head_since = None
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with the limits, and malformed requests logged as refusals.
        self._unset_keepalive_if_required()
        self._read = len(data)
        if self.head_since is not None:
            self._head_later_reads += self._read
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Kurir takes no upgrade: the request is answered as plain HTTP,
            # and as the parser reads nothing after it, the connection ends
            # with that answer (uvicorn logged a warning for every one).
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.keep_alive = False
            else:
                self.transport.close()
            return
        except httptools.HttpParserError:
            self._refuse(self._refusal or self.guard.malformed)
            return
        guard = self.guard
        # A head still incomplete: what httptools holds of it is at most this
        # (the read it began in is left out: it may end a previous request).
        if self.head_since is not None and self._head_later_reads > guard.max_header_bytes:
            self._refuse(guard.too_large)

    def _should_upgrade(self) -> bool:
        """Kurir has no WebSocket endpoint: an upgrade is never taken."""
        return False

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        if self.head_since is None:
            self.head_since = self.loop.time()
            self._head_first_read = self._read

    def on_headers_complete(self) -> None:
        guard = self.guard
        headers = self.headers
        if len(headers) > guard.max_headers:
            self._refusal = guard.too_many
            raise _HeadRefused
        if self._head_first_read + self._head_later_reads > guard.max_header_bytes:
            # As sent, each header is "name: value\r\n".
            size = len(self.url) + 4 * len(headers)
            for name, value in headers:
                size += len(name) + len(value)
            if size > guard.max_header_bytes:
                self._refusal = guard.too_large
                raise _HeadRefused
        self.head_since = None
        self._head_first_read = self._head_later_reads = 0
        HttpToolsProtocol.on_headers_complete(self)

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer with ``refusal`` in the API's error shape; then the connection ends."""
        self.head_since = None
        refusal.log.add(self.loop)
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's answer cannot go before the one in progress.
            self.transport.close()
            return
        content = [STATUS_LINE[refusal.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(refusal.body),
                b"connection: close\r\n\r\n",
                refusal.body,
            ]
        )
        self.transport.write(b"".join(content))
        self._end()

    def on_response_complete(self) -> None:
        HttpToolsProtocol.on_response_complete(self)
        cycle = self.cycle
        if cycle.more_body and cycle.response_complete and not self.transport.is_closing():
            # Answered before its body had all come (a 401, a 404, a 413):
            # uvicorn would read the rest for as long as the client cared to
            # send it, a byte now and then, holding the connection for good.
            self._end()

    def _end(self) -> None:
        """End the connection once the answer written is sent (see _Drain)."""
        self.transport.write_eof()
        self.transport.set_protocol(_Drain(self, self.transport))


class _Drain(asyncio.Protocol):
    """A refused connection's last moments: what the client still sends is read and dropped.

    Closed with unread data, a socket resets the connection, and the reset
    can overtake the answer before the client has read it. So the connection
    stays open, half-closed, until the client closes it, ``DRAIN_S`` pass or
    ``DRAIN_BYTES`` were dropped (past that the client is no ordinary one).
    """

    def __init__(self, protocol: GuardedHttpProtocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport
        self._left = DRAIN_BYTES
        protocol.loop.call_later(DRAIN_S, transport.close)

    def data_received(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0:
            self._transport.abort()

    def eof_received(self) -> None:
        return None  # closes the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._protocol.connection_lost(exc)


def guarded_protocol(settings: Settings) -> type[GuardedHttpProtocol]:
    """The protocol class to give uvicorn (``http=``), its limits from ``settings``."""
    max_connections = fit_descriptor_limit(settings.max_connections)

    class Guarded(GuardedHttpProtocol):
        guard = _Guard(settings, max_connections)

    return Guarded


def fit_descriptor_limit(max_connections: int) -> int:
    """The connection ceiling the process's descriptor limit allows.

    The soft limit is raised as far as the hard limit lets it (it is often
    1,024); where even that is too low the ceiling is lowered, and logged, so
    that a full house still leaves descriptors for the database and for accept.
    """
    if sys.platform == "win32":  # no RLIMIT_NOFILE; sockets are not descriptors there
        return max_connections
    import resource

    needed = max_connections + RESERVED_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return max_connections
    fitted = max(1, soft - RESERVED_DESCRIPTORS)
    log.warning(
        "KURIR_MAX_CONNECTIONS lowered from %d to %d: the process may open only %d files "
        "(raise its hard limit, e.g. LimitNOFILE= or ulimit -Hn, to allow more)",
        max_connections,
        fitted,
        soft,
    )
    return fitted
