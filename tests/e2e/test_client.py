"""kurir.Client and kurir.AsyncClient against a real ``kurir serve`` over HTTP.

Every scenario runs with both clients: the async one is driven from these
synchronous tests on an event loop of its own, so the two cannot drift apart
unnoticed. One native ``async`` test checks the async client inside a running loop.
"""

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Unpack

import pytest

from kurir import AsyncClient, Client, KurirError
from kurir.api.types import (
    CancelResponse,
    DeviceData,
    InboundListResponse,
    InboundMessageData,
    MessageContent,
    MessageData,
    SendResponse,
)
from kurir.client import ButtonSend, InboundQuery, MediaSend, TextSend
from kurir.domain.ids import is_message_id
from tests.e2e.kurir_cli import jakarta_schedule, sqlite_server, wait_until
from tests.support.server import KurirProcess, free_port

RECIPIENT = "628111111111"
TEXT = "Halo, pesanan Anda sudah dikirim."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    """The clients speak only HTTP: one SQLite-backed server serves the module."""
    with sqlite_server(tmp_path_factory.mktemp("client")) as process:
        yield process


class BlockingAsyncClient:
    """A real AsyncClient, each call run to completion on a private event loop."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = AsyncClient(base_url, api_key)

    def send_text(self, **send: Unpack[TextSend]) -> SendResponse:
        return self._loop.run_until_complete(self._client.send_text(**send))

    def send_media(self, **send: Unpack[MediaSend]) -> SendResponse:
        return self._loop.run_until_complete(self._client.send_media(**send))

    def send_button(self, **send: Unpack[ButtonSend]) -> SendResponse:
        return self._loop.run_until_complete(self._client.send_button(**send))

    def get_message(self, message_id: str) -> MessageData:
        return self._loop.run_until_complete(self._client.get_message(message_id))

    def cancel_message(self, message_id: str) -> CancelResponse:
        return self._loop.run_until_complete(self._client.cancel_message(message_id))

    def list_devices(self) -> list[DeviceData]:
        return self._loop.run_until_complete(self._client.list_devices())

    def list_inbound(self, **query: Unpack[InboundQuery]) -> InboundListResponse:
        return self._loop.run_until_complete(self._client.list_inbound(**query))

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


#: Either client, called the blocking way.
KurirApi = Client | BlockingAsyncClient
Connect = Callable[[str, str], KurirApi]


@pytest.fixture(params=["Client", "AsyncClient"])
def connect(request: pytest.FixtureRequest) -> Iterator[Connect]:
    """Open a client of the parametrised kind on ``(base_url, api_key)``; closed afterwards."""
    opened: list[KurirApi] = []

    def open_client(base_url: str, api_key: str) -> KurirApi:
        client = (
            Client(base_url, api_key)
            if request.param == "Client"
            else BlockingAsyncClient(base_url, api_key)
        )
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def _button(server: KurirProcess, **overrides: Any) -> dict[str, Any]:
    """send_button's arguments for a valid message on the server's device."""
    return {
        "device": server.device_id,
        "phone": "0811-1111-111",
        "header": "Header",
        "message": "Pilih salah satu:",
        "footer": "Footer",
        "buttons": ["Opsi 1", "Opsi 2"],
        **overrides,
    }


def _refusal(call: Callable[[], object]) -> tuple[int, str] | None:
    """The status and message of the KurirError that ``call`` raises; None if it succeeds."""
    try:
        call()
    except KurirError as error:
        caught = error
    else:
        return None
    assert str(caught) == f"{caught.status_code}: {caught.message}"
    return caught.status_code, caught.message


def _delivered(kurir: KurirApi, message_id: str) -> MessageData:
    """The message once the sandbox has delivered it."""
    wait_until(
        lambda: kurir.get_message(message_id).status in {"delivered", "read"},
        within=10,
        what="the sandbox delivers the message",
    )
    return kurir.get_message(message_id)


def test_button_is_delivered_and_readable(server: KurirProcess, connect: Connect) -> None:
    kurir = connect(server.base_url, server.api_key)
    sent = kurir.send_button(**_button(server))
    assert sent == SendResponse(message_id=sent.message_id, from_=server.device_phone, to=RECIPIENT)
    assert (sent.status, sent.message) == ("ok", "Success")
    assert is_message_id(sent.message_id)

    data = _delivered(kurir, sent.message_id)
    assert isinstance(data, MessageData)
    assert (data.message_id, data.device, data.from_, data.to, data.type) == (
        sent.message_id,
        server.device_id,
        server.device_phone,
        RECIPIENT,
        "button",
    )
    assert data.content == MessageContent(
        message_header="Header",
        message="Pilih salah satu:",
        message_footer="Footer",
        buttons=("Opsi 1", "Opsi 2"),
        layout="reply_buttons",
    )
    assert data.attempts == 1
    assert data.last_error is None
    assert data.reply is None
    assert {"created", "sent", "delivered"} <= set(data.timestamps)
    assert _refusal(lambda: kurir.cancel_message(sent.message_id)) == (
        409,
        f"message {sent.message_id} is already {data.status}; it can no longer be cancelled",
    )


def test_text_is_delivered_and_readable(server: KurirProcess, connect: Connect) -> None:
    kurir = connect(server.base_url, server.api_key)
    sent = kurir.send_text(device=server.device_id, phone="+62 811-1111-111", message=TEXT)
    assert sent == SendResponse(message_id=sent.message_id, from_=server.device_phone, to=RECIPIENT)
    data = _delivered(kurir, sent.message_id)
    assert (data.message_id, data.type, data.to) == (sent.message_id, "text", RECIPIENT)
    assert data.content == MessageContent(message=TEXT)


def test_media_is_accepted_scheduled_and_cancelled(server: KurirProcess, connect: Connect) -> None:
    """Scheduled, so that no worker fetches the file: fetching has tests of its own."""
    kurir = connect(server.base_url, server.api_key)
    schedule = jakarta_schedule(timedelta(hours=2))
    request: MediaSend = {
        "device": server.device_id,
        "phone": "08111111111",
        "url": "https://example.com/invoice-0042.pdf",
        "type": "document",
        "caption": "Invoice 0042",
        "filename": "invoice-0042.pdf",
        "schedule": schedule,
        "idempotency_key": f"invoice-{uuid.uuid4()}",
    }
    sent = kurir.send_media(**request)
    assert sent == SendResponse(message_id=sent.message_id, from_=server.device_phone, to=RECIPIENT)
    assert is_message_id(sent.message_id)
    # The retry answers as the first did and stores nothing new.
    assert kurir.send_media(**request) == sent

    data = kurir.get_message(sent.message_id)
    assert (data.type, data.status) == ("media", "scheduled")
    assert data.content == MessageContent(
        url="https://example.com/invoice-0042.pdf",
        type="document",
        caption="Invoice 0042",
        filename="invoice-0042.pdf",
    )
    assert kurir.cancel_message(sent.message_id) == CancelResponse(message_id=sent.message_id)


def test_scheduled_send_with_idempotency_key_then_cancel(
    server: KurirProcess, connect: Connect
) -> None:
    kurir = connect(server.base_url, server.api_key)
    schedule = jakarta_schedule(timedelta(hours=2))
    request = _button(server, schedule=schedule, idempotency_key=f"order-{uuid.uuid4()}")
    first = kurir.send_button(**request)
    # The retry answers as the first did and stores nothing new.
    assert kurir.send_button(**request) == first
    assert _refusal(lambda: kurir.send_button(**{**request, "message": "Other"})) == (
        409,
        f"Idempotency-Key was already used for a different request (message {first.message_id})",
    )

    data = kurir.get_message(first.message_id)
    assert data.status == "scheduled"
    date, time = schedule.split(" ")
    assert data.scheduled_for == f"{date}T{time}.000+07:00"
    assert list(data.timestamps) == ["created"]

    cancelled = kurir.cancel_message(first.message_id)
    assert cancelled == CancelResponse(message_id=first.message_id)
    assert (cancelled.status, cancelled.message) == ("ok", "Cancelled")
    data = kurir.get_message(first.message_id)
    assert data.status == "cancelled"
    assert "cancelled" in data.timestamps


def test_list_devices(server: KurirProcess, connect: Connect) -> None:
    devices = connect(server.base_url, server.api_key).list_devices()
    assert all(isinstance(device, DeviceData) for device in devices)
    assert [(d.device, d.phone, d.transport) for d in devices] == [
        (server.device_id, server.device_phone, "sandbox")
    ]
    assert devices[0].state in {"idle", "connected"}


def test_list_inbound_pages_newest_first(server: KurirProcess, connect: Connect) -> None:
    kurir = connect(server.base_url, server.api_key)
    texts = [f"Kapan barangnya sampai? ({uuid.uuid4()})" for _ in range(2)]
    with server.client() as http:
        for text in texts:  # the recipient writes twice
            reply = {"phone": "0811 1111 111", "text": text}
            response = http.post(f"/sandbox/{server.device_id}/reply", json=reply)
            assert response.status_code == 200, response.text

    newest = kurir.list_inbound(device=server.device_id, limit=1)
    assert isinstance(newest, InboundListResponse)
    [message] = newest.data
    assert isinstance(message, InboundMessageData)
    assert (message.device, message.from_, message.type, message.text) == (
        server.device_id,
        RECIPIENT,
        "text",
        texts[1],
    )
    assert (message.media_url, message.quoted_message_id) == (None, None)
    assert newest.next_cursor is not None
    older = kurir.list_inbound(device=server.device_id, limit=1, before=newest.next_cursor)
    assert [item.text for item in older.data] == [texts[0]]
    # Without arguments: the server's defaults, every device, newest first.
    assert [item.text for item in kurir.list_inbound().data[:2]] == texts[::-1]


def test_every_refusal_carries_the_servers_message_and_status(
    server: KurirProcess, connect: Connect
) -> None:
    kurir = connect(server.base_url, server.api_key)
    stranger = connect(server.base_url, "not-a-key")
    unknown_id = "3EB0" + "0" * 16
    device, phone = server.device_id, RECIPIENT
    cases: list[tuple[Callable[[], object], tuple[int, str]]] = [
        (stranger.list_devices, (401, "Unauthorized")),
        (stranger.list_inbound, (401, "Unauthorized")),
        (lambda: stranger.send_button(**_button(server)), (401, "Unauthorized")),
        (
            lambda: stranger.send_text(device=device, phone=phone, message=TEXT),
            (401, "Unauthorized"),
        ),
        (lambda: stranger.get_message(unknown_id), (401, "Unauthorized")),
        (
            lambda: kurir.send_button(**_button(server, device="nope")),
            (404, "device 'nope' not found"),
        ),
        (
            lambda: kurir.send_button(**_button(server, phone="12345")),
            (422, "phone is not a valid phone number: '12345'"),
        ),
        (
            lambda: kurir.send_button(**_button(server, header=" ")),
            (422, "message_header must not be empty"),
        ),
        (
            lambda: kurir.send_button(**_button(server, schedule="tomorrow")),
            (
                422,
                "schedule must be a date and time as 'Y-m-d H:i:s' "
                "(for example 2026-12-31 09:30:00) or ISO 8601, got 'tomorrow'",
            ),
        ),
        (
            lambda: kurir.send_text(device=device, phone=phone, message=" "),
            (422, "message must not be empty"),
        ),
        (
            lambda: kurir.send_media(device=device, phone=phone, url="ftp://example.com/a.pdf"),
            (422, "url: scheme must be http or https, not 'ftp'"),
        ),
        (
            lambda: kurir.list_inbound(before="yesterday"),
            (422, "before must be a cursor from a previous answer"),
        ),
        (
            lambda: kurir.list_inbound(limit=0),
            (422, "limit must be a whole number from 1 to 500"),
        ),
        (lambda: kurir.list_inbound(device="nope"), (404, "device 'nope' not found")),
        (lambda: kurir.get_message(unknown_id), (404, f"message {unknown_id} not found")),
        (lambda: kurir.cancel_message(unknown_id), (404, f"message {unknown_id} not found")),
        # An id is one path segment: it cannot reach another endpoint.
        (lambda: kurir.get_message("../device/list"), (404, "Not found")),
    ]
    for call, expected in cases:
        assert _refusal(call) == expected


def test_unreachable_server_is_status_0(connect: Connect) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    kurir = connect(f"{nowhere}/", "any-key")
    refusal = _refusal(kurir.list_devices)
    assert refusal is not None
    assert refusal[0] == 0
    assert refusal[1].startswith(f"cannot reach the server at {nowhere}: ")


async def test_async_client_in_a_running_loop(server: KurirProcess) -> None:
    async with AsyncClient(server.base_url, server.api_key) as kurir:
        sent, texted, devices = await asyncio.gather(
            kurir.send_button(**_button(server)),
            kurir.send_text(device=server.device_id, phone=RECIPIENT, message=TEXT),
            kurir.list_devices(),
        )
        assert sent.message_id != texted.message_id
        assert (await kurir.get_message(sent.message_id)).to == RECIPIENT
        assert (await kurir.get_message(texted.message_id)).content == MessageContent(message=TEXT)
        assert devices[0].device == server.device_id
    async with AsyncClient(f"http://127.0.0.1:{free_port()}", "any-key") as nowhere:
        with pytest.raises(KurirError) as caught:
            await nowhere.get_message(sent.message_id)
    assert caught.value.status_code == 0
