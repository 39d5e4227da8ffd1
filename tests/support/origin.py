"""A customer's web server for egress tests, and the DNS that points at it.

The server speaks HTTP/1.1 on loopback, every answer written by the test.

A raw asyncio server rather than an ASGI app, because the tests need answers
no framework gives willingly: one that never comes, a body that drips or never
ends, a redirect to anywhere. It runs in the test's own event loop (or, for a
test that is not async, in a thread of its own: `served`), records each
connection and request, and answers one request per connection.
"""

import asyncio
import ssl
import threading
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    #: Names in lower case.
    headers: dict[str, str]
    body: bytes
    #: The address the client connected to (this server's own).
    local_address: str


Handler = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


async def answer(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    head = [f"HTTP/1.1 {status} Test", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


async def answer_chunked(
    writer: asyncio.StreamWriter, status: int, chunks: AsyncIterable[bytes]
) -> None:
    """An answer of unknown length, sent as it comes."""
    writer.write(f"HTTP/1.1 {status} Test\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    async for chunk in chunks:
        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def ok(body: bytes, content_type: str = "application/octet-stream") -> Handler:
    async def handle(_request: Received, writer: asyncio.StreamWriter) -> None:
        await answer(writer, 200, body, [("Content-Type", content_type)])

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    async def handle(_request: Received, writer: asyncio.StreamWriter) -> None:
        await answer(writer, status, headers=[("Location", location)])

    return handle


async def never_answer(_request: Received, _writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()  # until the server stops


class Origin:
    """``async with Origin({"/path": handler}) as origin:`` serves on ``origin.port``."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.routes = routes
        self.host = host
        self.port = port
        self.tls = tls
        self.connections = 0
        self.received: list[Received] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str, *, host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            request = await self._read(reader, writer)
            self.received.append(request)
            handler = self.routes.get(request.path.partition("?")[0])
            if handler is None:
                await answer(writer, 404)
            else:
                await handler(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away, as some tests make it do
        except asyncio.CancelledError:
            pass  # the server is stopping; asyncio would report a cancelled handler as an error
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Received:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.rstrip("\r\n").split("\r\n")
        method, path, _version = request_line.split(" ")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        local_address = str(writer.get_extra_info("sockname")[0])
        return Received(method, path, headers, body, local_address)


@contextmanager
def served(
    routes: Mapping[str, Handler], *, host: str = "127.0.0.1", timeout: float = 10.0
) -> Iterator[Origin]:
    """An `Origin` on an event loop in a background thread; stopped on exit.

    For tests that talk to a real ``kurir`` process, which fetches from the
    origin while the test waits on the process's API.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    origin = Origin(routes, host=host)
    try:
        asyncio.run_coroutine_threadsafe(origin.__aenter__(), loop).result(timeout)
        try:
            yield origin
        finally:
            stop = origin.__aexit__(None, None, None)
            asyncio.run_coroutine_threadsafe(stop, loop).result(timeout)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()


class Answers:
    """A resolver answering from a script: each question takes the next answer; the last stays."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
