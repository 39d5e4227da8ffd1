"""The dashboard's calls to the API, made in process as the signed-in account.

Every change the dashboard makes, and most of what it shows, goes through
the API's own handlers: the same validation, the same ownership checks and
the same errors as a client's request. The account is put in the request's
scope (`DASHBOARD_ACCOUNT`), where nothing from the network can put it.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.types import ASGIApp, Message

from kurir.api.context import DASHBOARD_ACCOUNT

_DECODER = msgspec.json.Decoder()


class ApiAnswer(msgspec.Struct, frozen=True):
    """The API's answer: its status and JSON body."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        """The API's message for a refusal, as a client would read it."""
        if isinstance(self.body, dict):
            return str(self.body.get("message", f"the API answered {self.status}"))
        return f"the API answered {self.status}"


class InProcessApi:
    """Calls the API application; ``app`` is asked for lazily (the API contains the dashboard)."""

    def __init__(self, app: Callable[[], ASGIApp]) -> None:
        self._app = app

    async def call(
        self,
        account_id: int,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> ApiAnswer:
        payload = b"" if body is None else msgspec.json.encode(body)
        headers = [(b"host", b"dashboard"), (b"content-length", str(len(payload)).encode())]
        if body is not None:
            headers.append((b"content-type", b"application/json"))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(query or {}).encode(),
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", 0),
            "state": {},
            DASHBOARD_ACCOUNT: account_id,
        }
        sent = False
        status = 500
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app()(scope, receive, send)
        raw = b"".join(chunks)
        try:
            decoded = _DECODER.decode(raw) if raw else None
        except msgspec.DecodeError:
            decoded = None
        return ApiAnswer(status, decoded)
