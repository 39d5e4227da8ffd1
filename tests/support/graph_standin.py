"""A stand-in for Meta's Graph API (``https://graph.facebook.com``) over real HTTP.

WhatsApp's Cloud API cannot be reached from tests, so the ``cloud`` transport
is tested against this: a Starlette app served on loopback that answers as
Meta documents, refusals and failures included::

    with GraphStandin() as graph:               # or the ``graph`` pytest fixture
        graph.base_url                          # use in place of https://graph.facebook.com
        graph.access_token, graph.phone.id      # the credentials it accepts
        graph.fail_next(131056, times=2)        # Meta's pair rate limit, twice
        graph.fail_next("drop")                 # the connection closes with no answer
        ...                                     # the transport sends
        graph.sent                              # accepted sends: payload, headers, wamid
        graph.requests                          # every request and the status it got
        graph.webhooks.url = webhook_url        # where webhooks go (or url= on each call)
        graph.webhooks.deliver(graph.status(wamid, "read"))   # signed as Meta signs

It answers ``GET /{version}/{phone_number_id}`` (the credential check) and
``POST /{version}/{phone_number_id}/messages`` (sends and read receipts).
Payload rules are in `graph_payloads`, envelopes and fixtures in
`graph_data`, webhook shapes in `graph_webhooks`.
"""

import collections
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.support import graph_data, graph_webhooks
from tests.support.graph_data import WABA_ID, GraphAnswer, PhoneNumber
from tests.support.graph_payloads import Refusal, check_message, check_read_receipt, recipient_id
from tests.support.loopback import serve

#: A scripted failure: a Meta error code (see `graph_data.SCRIPTED_ERRORS`), a bare
#: 503 from Meta's edge with no Graph envelope, or a connection closed with no answer.
Failure = int | Literal["raw_503", "drop"]
#: What a request gets: a Graph answer, or one of the failures that have none.
Answer = GraphAnswer | Literal["raw_503", "drop"]

#: The credentials the stand-in accepts unless told others.
ACCESS_TOKEN = "EAAG-test-graph-token"
APP_SECRET = "test-app-secret"

_VERSION = re.compile(r"v\d+\.\d+")
_ABORT = "graph_standin.abort"
_STATUSES = {"raw_503": 503, "drop": None}
_RAW_503 = b"<html><body><h1>503 Service Unavailable</h1>No server is available.</body></html>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received, and what it answered."""

    method: str
    path: str
    version: str
    phone_number_id: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int | None  # None: the connection was dropped
    wamid: str | None  # the id given to an accepted message

    @property
    def payload(self) -> Any:
        """The body read as JSON; None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _abort_of(send: Send) -> Callable[[], None] | None:
    """Uvicorn's transport for this request, to close it without an answer.

    ASGI has no way to drop a connection, but uvicorn hands the app the bound
    ``send`` of its request cycle, which holds the transport. If a uvicorn
    release changes that, scripting a drop fails loudly instead of answering.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    return abort if callable(abort) else None


class GraphStandin:
    """Meta's Graph API for one WhatsApp Business Account with one phone number."""

    def __init__(
        self,
        *,
        access_token: str = ACCESS_TOKEN,
        app_secret: str = APP_SECRET,
        phone: PhoneNumber = graph_data.DEFAULT_PHONE_NUMBER,
        waba_id: str = WABA_ID,
        webhook_url: str | None = None,
    ) -> None:
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone = phone
        self.waba_id = waba_id
        #: Posts what the builders below make: ``webhooks.deliver(graph.status(...))``.
        self.webhooks = graph_webhooks.WebhookPoster(app_secret, webhook_url)
        self._lock = threading.Lock()
        self._failures: collections.deque[tuple[Failure, int | None]] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._conversations: dict[str, str] = {}
        self._stack = ExitStack()
        self._base_url: str | None = None
        self._app = Starlette(
            routes=[
                Route("/{version}/{phone_number_id}", self._get_phone_number, methods=["GET"]),
                Route(
                    "/{version}/{phone_number_id}/messages", self._post_messages, methods=["POST"]
                ),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_ABORT] = _abort_of(send)
        await self._app(scope, receive, send)

    # Serving

    def __enter__(self) -> Self:
        self._base_url = self._stack.enter_context(serve(self))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()
        self._base_url = None

    @property
    def base_url(self) -> str:
        """Where the stand-in listens, in place of ``https://graph.facebook.com``."""
        if self._base_url is None:
            raise RuntimeError("the Graph API stand-in is not running")
        return self._base_url

    # Scripting and reading what happened

    def fail_next(self, failure: Failure, times: int = 1, *, status: int | None = None) -> None:
        """Answer the next ``times`` sends with ``failure`` (after the token check).

        ``status`` overrides the HTTP status Meta uses for that error code.
        """
        if isinstance(failure, int) and failure not in graph_data.SCRIPTED_ERRORS:
            raise ValueError(f"no recorded envelope for error {failure}")
        with self._lock:
            self._failures.extend([(failure, status)] * times)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first, whatever it was answered."""
        with self._lock:
            return list(self._requests)

    @property
    def sent(self) -> list[RecordedRequest]:
        """The messages Meta accepted, oldest first."""
        return [request for request in self.requests if request.wamid is not None]

    def message(self, wamid: str) -> RecordedRequest:
        """The accepted send that was given ``wamid``."""
        for request in self.sent:
            if request.wamid == wamid:
                return request
        raise KeyError(f"no message was sent with id {wamid}")

    # The HTTP API

    async def _get_phone_number(self, request: Request) -> Response:
        answer = self._answer(request, b"", lambda: self._phone_number(request))
        assert isinstance(answer, GraphAnswer)  # failures are scripted for sends only
        return _response(answer)

    async def _post_messages(self, request: Request) -> Response:
        body = await request.body()
        answer = self._answer(request, body, lambda: self._send(body))
        if isinstance(answer, GraphAnswer):
            return _response(answer)
        if answer == "drop":
            abort = request.scope.get(_ABORT)
            if abort is None:
                raise RuntimeError("cannot reach uvicorn's transport to drop the connection")
            abort()
            while (await request.receive())["type"] != "http.disconnect":
                pass
            return Response(status_code=500)  # never written: the connection is gone
        return Response(_RAW_503, status_code=503, media_type="text/html; charset=utf-8")

    def _answer(
        self,
        request: Request,
        body: bytes,
        handle: Callable[[], tuple[Answer, str | None]],
    ) -> Answer:
        """Check what Graph checks first, then ``handle``; record the request and answer."""
        version = request.path_params["version"]
        number_id = request.path_params["phone_number_id"]
        with self._lock:
            answer: Answer
            wamid = None
            token = request.headers.get("authorization")
            if not _VERSION.fullmatch(version):
                answer = graph_data.invalid_version()
            elif token is None:
                answer = graph_data.missing_token()
            elif token != f"Bearer {self.access_token}":
                answer = graph_data.invalid_token()
            elif number_id != self.phone.id:
                answer = graph_data.unknown_object(request.method.lower(), number_id)
            else:
                answer, wamid = handle()
            status = answer.status if isinstance(answer, GraphAnswer) else _STATUSES[answer]
            headers = dict(request.headers.items())
            self._requests.append(
                RecordedRequest(
                    request.method,
                    request.url.path,
                    version,
                    number_id,
                    headers,
                    body,
                    status,
                    wamid,
                )
            )
        return answer

    def _phone_number(self, request: Request) -> tuple[GraphAnswer, None]:
        fields = request.query_params.get("fields")
        requested = [name.strip() for name in fields.split(",")] if fields else None
        for name in requested or []:
            if name not in graph_data.PHONE_NUMBER_FIELDS:
                return graph_data.nonexisting_field(name), None
        return GraphAnswer(200, self.phone.fields(requested), {}), None

    def _send(self, body: bytes) -> tuple[Answer, str | None]:
        if self._failures:
            failure, status = self._failures.popleft()
            if isinstance(failure, int):
                return graph_data.scripted_error(failure, status), None
            return failure, None
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        try:
            if isinstance(payload, dict) and "status" in payload:
                check_read_receipt(payload)
                return GraphAnswer(200, {"success": True}, {}), None
            kind = check_message(payload)
        except Refusal as refusal:
            return (
                graph_data.graph_error(400, refusal.code, refusal.message, details=refusal.details),
                None,
            )
        assert isinstance(payload, dict)  # check_message refuses anything else
        wa_id = recipient_id(payload["to"])
        wamid = graph_data.wamid(wa_id)
        message: dict[str, str] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        success = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": payload["to"], "wa_id": wa_id}],
            "messages": [message],
        }
        return GraphAnswer(200, success, {}), wamid

    # Webhooks

    def status(
        self,
        wamid: str,
        status: str,
        *,
        error_code: int | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A status webhook for a message the stand-in accepted (``failed`` needs a code)."""
        payload = self.message(wamid).payload
        wa_id = recipient_id(payload["to"])
        conversation = self._conversations.setdefault(wa_id, secrets.token_hex(16))
        value = graph_webhooks.status_value(
            wamid,
            status,
            wa_id,
            _now(timestamp),
            conversation_id=conversation,
            error_code=error_code,
            biz_opaque_callback_data=payload.get("biz_opaque_callback_data"),
        )
        return graph_webhooks.envelope(self.waba_id, self.phone, value)

    def text_from(
        self, wa_id: str, body: str, *, name: str = "Budi", timestamp: int | None = None
    ) -> dict[str, Any]:
        """A text message from the user ``wa_id``."""
        message = graph_webhooks.text_message(wa_id, _inbound(wa_id), _now(timestamp), body)
        return self._inbound(name, wa_id, message)

    def button_reply(
        self, wamid: str, button_id: str, *, name: str = "Budi", timestamp: int | None = None
    ) -> dict[str, Any]:
        """The recipient of ``wamid`` taps its reply button ``button_id``."""
        buttons = self._interactive(wamid, "button")["action"]["buttons"]
        reply = graph_webhooks.pick([button["reply"] for button in buttons], button_id, wamid)
        return self._reply(wamid, reply, "button_reply", name, timestamp)

    def list_reply(
        self, wamid: str, row_id: str, *, name: str = "Budi", timestamp: int | None = None
    ) -> dict[str, Any]:
        """The recipient of ``wamid`` picks the row ``row_id`` of its list."""
        sections = self._interactive(wamid, "list")["action"]["sections"]
        reply = graph_webhooks.pick(
            [row for section in sections for row in section["rows"]], row_id, wamid
        )
        return self._reply(wamid, reply, "list_reply", name, timestamp)

    def media_from(
        self,
        wa_id: str,
        kind: graph_webhooks.MediaKind,
        media_id: str,
        *,
        caption: str | None = None,
        filename: str | None = None,
        name: str = "Budi",
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        """A media message from ``wa_id``, naming the uploaded media by its id."""
        message = graph_webhooks.media_message(
            wa_id,
            _inbound(wa_id),
            _now(timestamp),
            kind,
            media_id,
            caption=caption,
            filename=filename,
        )
        return self._inbound(name, wa_id, message)

    def _interactive(self, wamid: str, kind: str) -> dict[str, Any]:
        payload = self.message(wamid).payload
        interactive: dict[str, Any] | None = payload.get("interactive")
        if interactive is None or interactive["type"] != kind:
            raise ValueError(f"message {wamid} is no interactive {kind} message")
        return interactive

    def _reply(
        self, wamid: str, reply: dict[str, str], kind: str, name: str, timestamp: int | None
    ) -> dict[str, Any]:
        wa_id = recipient_id(self.message(wamid).payload["to"])
        message = graph_webhooks.reply_message(
            self.phone,
            wa_id,
            _inbound(wa_id),
            _now(timestamp),
            replied_to=wamid,
            reply=reply,
            kind=kind,
        )
        return self._inbound(name, wa_id, message)

    def _inbound(self, name: str, wa_id: str, message: dict[str, Any]) -> dict[str, Any]:
        value = graph_webhooks.inbound_value(name, wa_id, message)
        return graph_webhooks.envelope(self.waba_id, self.phone, value)


def _response(answer: GraphAnswer) -> Response:
    return Response(
        graph_data.graph_json(answer.body),
        status_code=answer.status,
        headers=answer.headers,
        media_type="application/json; charset=UTF-8",
    )


def _now(timestamp: int | None) -> int:
    return int(time.time()) if timestamp is None else timestamp


def _inbound(wa_id: str) -> str:
    return graph_data.wamid(wa_id, inbound=True)
