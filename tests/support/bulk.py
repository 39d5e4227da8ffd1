"""Posting many requests quickly: keep-alive HTTP/1.1 over plain asyncio streams.

httpx spends about 3 ms of CPU per request here, which caps a test client
near 350 requests a second; tests that need thousands of real requests
(a cluster under load) use this instead. It speaks only what Kurir answers:
a status line, headers with Content-Length, and a JSON body.
"""

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any


class BulkPoster:
    """One keep-alive connection; ``post`` sends a JSON body and returns (status, body)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host = host
        self._port = port
        self._head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Post once, reconnecting and resending if the connection drops under it.

        A resend is safe only for a request the server can recognise again,
        so callers that post under load pass an Idempotency-Key.
        """
        for attempt in range(3):
            try:
                return await self._post_once(path, body, headers or {})
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post_once(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        payload = json.dumps(body).encode()
        self._writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\n{self._head}"
                + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                + f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        status_line = await self._reader.readline()
        if not status_line:  # closed by the server between two requests
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        answer: dict[str, Any] = json.loads(await self._reader.readexactly(length))
        return status, answer

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
            # The server may have dropped it first; closed is closed.
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def post_all(
    targets: Sequence[tuple[str, int]],
    headers: dict[str, str],
    path: str,
    bodies: Sequence[dict[str, Any]],
    *,
    connections: int = 48,
    key_prefix: str | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Post every body (spread over ``targets``); the answers, in the bodies' order.

    With ``key_prefix``, each body goes with its own Idempotency-Key, so one
    resent after a dropped connection is still stored once.
    """
    answers: list[tuple[int, dict[str, Any]] | None] = [None] * len(bodies)
    next_index = iter(range(len(bodies)))

    async def worker(number: int) -> None:
        host, port = targets[number % len(targets)]
        poster = BulkPoster(host, port, headers)
        try:
            for index in next_index:
                key = {"Idempotency-Key": f"{key_prefix}-{index}"} if key_prefix else None
                answers[index] = await poster.post(path, bodies[index], key)
        finally:
            await poster.close()

    await asyncio.gather(*(worker(number) for number in range(connections)))
    return [answer for answer in answers if answer is not None]
