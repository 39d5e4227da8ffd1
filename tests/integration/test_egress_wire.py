"""Egress's own HTTP/1.1 against raw servers on loopback: framing, keep-alive, limits.

Each server here is a few lines of asyncio answering bytes written by hand,
so a test can show one way an answer may be framed (sized, chunked, ended by
the close), a connection kept or dropped between requests, or a broken answer.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
import uvloop

from kurir.egress import Egress, PermanentEgressError, TooLarge, TransientEgressError


class RawServer:
    """Answers each request with what ``answer`` gives; counts connections."""

    def __init__(self, answer: Callable[[int], bytes], *, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests = 0
        self.heads: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                self.requests += 1
                writer.write(self.answer(self.requests))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(server: RawServer) -> AsyncIterator[str]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}/hook"


def sized(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(line + b"\r\n" for line in extra) + b"\r\n" + body


async def post(egress: Egress, url: str, keep_bytes: int = 1024) -> tuple[int, bytes]:
    posted = await egress.post(
        url, body=b"{}", headers={}, keep_bytes=keep_bytes, connect_timeout=2, total_timeout=5
    )
    return posted.status, posted.body_start


@pytest.fixture
async def egress() -> AsyncIterator[Egress]:
    async with Egress(allow_private=True) as egress:
        yield egress


async def test_a_kept_alive_connection_serves_request_after_request(egress: Egress) -> None:
    server = RawServer(lambda n: sized(b"answer %d" % n))
    async with serving(server) as url:
        answers = [await post(egress, url) for _ in range(5)]
    assert answers == [(200, b"answer %d" % n) for n in range(1, 6)]
    assert server.connections == 1


async def test_a_server_that_closes_after_each_answer_gets_a_new_connection(
    egress: Egress,
) -> None:
    # Each kept connection is found closed (or closes under the next request,
    # before any answer): the request goes again on a new one.
    server = RawServer(lambda n: sized(b"ok"), close_after=True)
    async with serving(server) as url:
        answers = [await post(egress, url) for _ in range(5)]
    assert answers == [(200, b"ok")] * 5
    assert server.connections == 5
    assert server.requests == 5


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept(egress: Egress) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    server = RawServer(lambda n: chunked)
    async with serving(server) as url:
        answers = [await post(egress, url) for _ in range(2)]
    assert answers == [(200, b"abcde")] * 2
    assert server.connections == 1


async def test_an_answer_without_a_length_ends_with_its_connection(egress: Egress) -> None:
    server = RawServer(lambda n: b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close_after=True)
    async with serving(server) as url:
        assert await post(egress, url) == (200, b"until the end")


async def test_an_interim_answer_is_skipped_for_the_real_one(egress: Egress) -> None:
    server = RawServer(lambda n: b"HTTP/1.1 100 Continue\r\n\r\n" + sized(b"real", b"X-A: 1"))
    async with serving(server) as url:
        posted = await egress.post(
            url, body=b"{}", headers={}, keep_bytes=10, connect_timeout=2, total_timeout=5
        )
    assert (posted.status, posted.body_start, posted.headers.get("x-a")) == (200, b"real", "1")


async def test_only_the_start_of_a_long_answer_is_kept_and_its_connection_dropped(
    egress: Egress,
) -> None:
    server = RawServer(lambda n: sized(b"x" * 100_000))
    async with serving(server) as url:
        first = await post(egress, url, keep_bytes=10)
        second = await post(egress, url, keep_bytes=10)
    assert first == second == (200, b"x" * 10)
    assert server.connections == 2


async def test_a_head_over_64_kib_is_refused(egress: Egress) -> None:
    huge = b"X-Big: " + b"a" * 70_000
    server = RawServer(lambda n: sized(b"ok", huge))
    async with serving(server) as url:
        with pytest.raises(TransientEgressError) as error:
            await post(egress, url)
    assert error.value.message == f"{url}: the answer's head is over 64 KiB or 100 headers"


async def test_more_than_100_headers_are_refused(egress: Egress) -> None:
    server = RawServer(lambda n: sized(b"ok", *(b"X-%d: 1" % i for i in range(101))))
    async with serving(server) as url:
        with pytest.raises(TransientEgressError, match="or 100 headers"):
            await post(egress, url)


async def test_an_answer_that_is_not_http_is_transient(egress: Egress) -> None:
    server = RawServer(lambda n: b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    async with serving(server) as url:
        with pytest.raises(TransientEgressError) as error:
            await post(egress, url)
    assert error.value.message == (
        f"{url}: the server closed the connection or answered with invalid HTTP"
    )


async def test_a_connection_cut_in_the_middle_of_an_answer_is_not_sent_again(
    egress: Egress,
) -> None:
    server = RawServer(
        lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", close_after=True
    )
    async with serving(server) as url:
        with pytest.raises(TransientEgressError) as error:
            await post(egress, url)
    assert error.value.message == (
        f"{url}: the server closed the connection in the middle of its answer"
    )
    assert server.requests == 1


async def test_a_fetch_over_its_limit_is_too_large_even_when_chunked(egress: Egress) -> None:
    chunk = b"%x\r\n%s\r\n" % (1000, b"y" * 1000)
    server = RawServer(
        lambda n: (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 5 + b"0\r\n\r\n"
        )
    )
    async with serving(server) as url:
        with pytest.raises(TooLarge):
            await egress.fetch(
                url, max_bytes=3000, follow_redirects=False, connect_timeout=2, total_timeout=5
            )


async def test_a_header_value_that_would_split_the_request_is_refused(egress: Egress) -> None:
    server = RawServer(lambda n: sized(b"ok"))
    async with serving(server) as url:
        with pytest.raises(PermanentEgressError, match="not valid HTTP"):
            await egress.post(
                url,
                body=b"{}",
                headers={"X-Evil": "a\r\nX-Injected: 1"},
                keep_bytes=10,
                connect_timeout=2,
                total_timeout=5,
            )
    assert server.requests == 0


def test_on_uvloop_as_kurir_runs_it() -> None:
    # uvloop's transports are not asyncio's classes; the connection must not care.
    async def exchange_three_times() -> tuple[list[tuple[int, bytes]], int]:
        server = RawServer(lambda n: sized(b"answer %d" % n))
        async with Egress(allow_private=True) as egress, serving(server) as url:
            answers = [await post(egress, url) for _ in range(3)]
        return answers, server.connections

    answers, connections = uvloop.run(exchange_three_times())
    assert answers == [(200, b"answer %d" % n) for n in range(1, 4)]
    assert connections == 1


async def test_a_callers_header_replaces_the_default_of_the_same_name(egress: Egress) -> None:
    server = RawServer(lambda n: sized(b"ok"))
    async with serving(server) as url:
        await egress.post(
            url + "?a=1",
            body=b"{}",
            headers={"user-agent": "Receiver-Test/1", "X-One": "1"},
            keep_bytes=10,
            connect_timeout=2,
            total_timeout=5,
        )
    port = url.split(":")[2].split("/")[0]
    assert server.heads == [
        b"POST /hook?a=1 HTTP/1.1\r\n"
        b"Host: 127.0.0.1:" + port.encode() + b"\r\n"
        b"Accept-Encoding: identity\r\n"
        b"user-agent: Receiver-Test/1\r\n"
        b"X-One: 1\r\n"
        b"Content-Length: 2\r\n\r\n"
    ]
