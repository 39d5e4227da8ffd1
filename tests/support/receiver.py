"""A customer's webhook receiver over real HTTP on loopback, verifying as a receiver should.

Every request is checked with the ``standardwebhooks`` package (the reference
library a customer would use) against the endpoint's secret; what passes is
kept in arrival order, what fails is counted and refused with 401. The test
can make it answer otherwise (``answer_with``), take it off the network and
bring it back on the same port (``down``/``up``), as a real receiver's
outage looks to Kurir: connections refused.
"""

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Received:
    """One verified delivery."""

    webhook_id: str
    timestamp: int
    body: dict[str, Any]

    @property
    def event(self) -> str:
        value: str = self.body["event"]
        return value


@dataclass
class Receiver:
    """Start with ``with Receiver() as receiver:``; set ``secret`` before deliveries come."""

    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    #: Answers other than 200: a function of the request's body, or None for 200.
    answer_with: Callable[[dict[str, Any]], Response | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> None:
        """Listen (again, on the same port once it had one)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        # asgi3 named: uvicorn 0.54 takes a bound coroutine method for an ASGI2 app.
        config = uvicorn.Config(
            self._app, lifespan="off", log_level="warning", access_log=False, interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        self._socket = sock

    def down(self) -> None:
        """Stop listening: Kurir's connections are refused until ``up``."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
        self._server = None

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def ids(self) -> Counter[str]:
        return Counter(item.webhook_id for item in self.snapshot())

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await request.body()
        response = self._handle(raw, dict(request.headers))
        await response(scope, receive, send)

    def _handle(self, raw: bytes, headers: dict[str, str]) -> Response:
        if self.secret is None:
            return Response(status_code=503)
        try:
            Webhook(self.secret).verify(raw, headers)
        except WebhookVerificationError:
            with self._lock:
                self.refused += 1
            return Response(status_code=401)
        body = json.loads(raw)
        if self.answer_with is not None:
            answer = self.answer_with(body)
            if answer is not None:
                return answer
        with self._lock:
            self.received.append(
                Received(headers["webhook-id"], int(headers["webhook-timestamp"]), body)
            )
        return Response(status_code=200)
