"""The cloud transport against the Graph API stand-in, over real HTTP, table by table.

In the manner of nyaruka/courier's handler tests: each kind of message goes
out as one exact Graph payload (which the stand-in also checks as Meta
would), and each of Meta's error envelopes becomes a retry, a failure, or
a device whose credentials are refused.
"""

import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kurir.domain.buttons import ButtonMessage
from kurir.domain.content import Content, MediaMessage, MediaType, TemplateMessage, TextMessage
from kurir.domain.ids import new_message_id
from kurir.store import Store
from kurir.transports import (
    DeviceInfo,
    MediaFile,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    TransportContext,
    build_transport,
)
from kurir.transports.cloud import CloudTransport
from kurir.transports.cloud.errors import CredentialsInvalid
from tests.support.cloud import RecordingEvents, cloud_config_json
from tests.support.databases import sqlite_url
from tests.support.graph_standin import Failure, GraphStandin

TO = "628111111111"
DEVICE = DeviceInfo(id=1, public_id="dev-cloud", account_id=1, phone="628122222222")
FILE_URL = "https://files.example.com/bukti.jpg"
FETCHED_URL = "https://cdn.example.com/bukti-0042.jpg"


def file(media_type: MediaType) -> MediaFile:
    """What the worker fetched, after a redirect to ``FETCHED_URL``."""
    return MediaFile(media_type=media_type, content_type="image/jpeg", data=b"x", url=FETCHED_URL)


def buttons(count: int) -> ButtonMessage:
    labels = tuple(f"Opsi {n}" for n in range(1, count + 1))
    return ButtonMessage(header="Header", body="Pilih salah satu:", footer="Footer", buttons=labels)


def replies(message_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {"type": "reply", "reply": {"id": f"{message_id}:{n}", "title": f"Opsi {n}"}}
        for n in range(1, count + 1)
    ]


def rows(message_id: str, count: int) -> list[dict[str, str]]:
    return [{"id": f"{message_id}:{n}", "title": f"Opsi {n}"} for n in range(1, count + 1)]


PARTS = {
    "header": {"type": "text", "text": "Header"},
    "body": {"text": "Pilih salah satu:"},
    "footer": {"text": "Footer"},
}

#: (name, content, fetched file, what goes under the payload's common fields) — the
#: expected part is a function of the message id, which reply ids carry.
PAYLOADS: list[tuple[str, Content, MediaFile | None, Callable[[str], dict[str, Any]]]] = [
    (
        "text",
        TextMessage(body="Halo, pesanan Anda sudah dikirim."),
        None,
        lambda _: {"type": "text", "text": {"body": "Halo, pesanan Anda sudah dikirim."}},
    ),
    (
        "text with a link is previewed",
        TextMessage(body="Lacak di HTTPS://kurir.example/lacak/42"),
        None,
        lambda _: {
            "type": "text",
            "text": {"body": "Lacak di HTTPS://kurir.example/lacak/42", "preview_url": True},
        },
    ),
    (
        "image with caption, from where the worker fetched it",
        MediaMessage(url=FILE_URL, media_type=MediaType.IMAGE, caption="Bukti"),
        file(MediaType.IMAGE),
        lambda _: {"type": "image", "image": {"link": FETCHED_URL, "caption": "Bukti"}},
    ),
    (
        "document with caption and filename",
        MediaMessage(
            url=FILE_URL, media_type=MediaType.DOCUMENT, caption="Faktur", filename="f-42.pdf"
        ),
        file(MediaType.DOCUMENT),
        lambda _: {
            "type": "document",
            "document": {"link": FETCHED_URL, "caption": "Faktur", "filename": "f-42.pdf"},
        },
    ),
    (
        "type told from the file: a video, whose filename is not shown",
        MediaMessage(url=FILE_URL, caption="Video", filename="v.mp4"),
        file(MediaType.VIDEO),
        lambda _: {"type": "video", "video": {"link": FETCHED_URL, "caption": "Video"}},
    ),
    (
        "audio",
        MediaMessage(url=FILE_URL, media_type=MediaType.AUDIO),
        file(MediaType.AUDIO),
        lambda _: {"type": "audio", "audio": {"link": FETCHED_URL}},
    ),
    (
        "template without parameters",
        TemplateMessage(name="hello_world", language="en_US"),
        None,
        lambda _: {
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        },
    ),
    (
        "template with its parameters, as given",
        TemplateMessage(
            name="order_shipped",
            language="id",
            components=(
                {"type": "body", "parameters": [{"type": "text", "text": "Budi"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "LACAK"}],
                },
            ),
        ),
        None,
        lambda _: {
            "type": "template",
            "template": {
                "name": "order_shipped",
                "language": {"code": "id"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "Budi"}]},
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{"type": "payload", "payload": "LACAK"}],
                    },
                ],
            },
        },
    ),
    (
        "one button",
        buttons(1),
        None,
        lambda mid: {
            "type": "interactive",
            "interactive": {"type": "button", **PARTS, "action": {"buttons": replies(mid, 1)}},
        },
    ),
    (
        "three buttons",
        buttons(3),
        None,
        lambda mid: {
            "type": "interactive",
            "interactive": {"type": "button", **PARTS, "action": {"buttons": replies(mid, 3)}},
        },
    ),
    (
        "four buttons make a list",
        buttons(4),
        None,
        lambda mid: {
            "type": "interactive",
            "interactive": {
                "type": "list",
                **PARTS,
                "action": {"button": "Pilih", "sections": [{"rows": rows(mid, 4)}]},
            },
        },
    ),
    (
        "ten buttons",
        buttons(10),
        None,
        lambda mid: {
            "type": "interactive",
            "interactive": {
                "type": "list",
                **PARTS,
                "action": {"button": "Pilih", "sections": [{"rows": rows(mid, 10)}]},
            },
        },
    ),
]


@pytest.fixture
async def context_store(tmp_path: Path) -> AsyncIterator[Store]:
    """The transport keeps no table of its own for sends; the context only needs one."""
    found = Store(sqlite_url(tmp_path), pool_size=1)
    yield found
    await found.close()


Open = Callable[..., CloudTransport]


@pytest.fixture
async def open_transport(context_store: Store) -> AsyncIterator[Open]:
    opened: list[CloudTransport] = []

    def open_(config_json: str, events: RecordingEvents) -> CloudTransport:
        transport = build_transport(
            "cloud",
            config_json,
            TransportContext(device=DEVICE, events=events, store=context_store),
            default_region="ID",
        )
        assert isinstance(transport, CloudTransport)
        opened.append(transport)
        return transport

    yield open_
    for transport in opened:
        await transport.close()


def outbound(content: Content, media: MediaFile | None = None) -> OutboundMessage:
    return OutboundMessage(
        message_id=new_message_id(),
        device=DEVICE,
        recipient=TO,
        content=content,
        attempt=1,
        media=media,
    )


@pytest.mark.parametrize(
    ("content", "media", "expected"),
    [
        pytest.param(content, media, expected, id=name)
        for name, content, media, expected in PAYLOADS
    ],
)
async def test_each_kind_goes_out_as_one_exact_graph_payload(
    graph: GraphStandin,
    open_transport: Open,
    content: Content,
    media: MediaFile | None,
    expected: Callable[[str], dict[str, Any]],
) -> None:
    events = RecordingEvents()
    transport = open_transport(cloud_config_json(graph), events)
    message = outbound(content, media)

    wamid = await transport.send(message)

    [sent] = graph.sent  # the stand-in accepted it, as Meta would
    assert wamid == sent.wamid
    assert sent.method == "POST"
    assert sent.path == f"/v23.0/{graph.phone.id}/messages"
    assert sent.headers["authorization"] == f"Bearer {graph.access_token}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        **expected(message.message_id),
        "biz_opaque_callback_data": message.message_id,
    }
    assert events.states == ["connected"]


async def test_the_list_button_label_and_the_version_come_from_the_config(
    graph: GraphStandin, open_transport: Open
) -> None:
    config = cloud_config_json(graph, list_button_label="Lihat pilihan", version="v22.0")
    await open_transport(config, RecordingEvents()).send(outbound(buttons(5)))
    [sent] = graph.sent
    assert sent.path == f"/v22.0/{graph.phone.id}/messages"
    assert sent.payload["interactive"]["action"]["button"] == "Lihat pilihan"


#: (scripted failure, the error, its least retry pause, words the error must hold)
ERRORS: list[tuple[Failure, type[Exception], float | None, str]] = [
    (4, TransientSendError, None, "rate limited"),
    (80007, TransientSendError, None, "rate limited"),
    (130429, TransientSendError, None, "rate limited"),
    (131048, TransientSendError, None, "rate limited"),
    (131056, TransientSendError, 6.0, "pair rate limit"),
    (1, TransientSendError, None, "having trouble"),
    (2, TransientSendError, None, "having trouble"),
    (131000, TransientSendError, None, "having trouble"),
    ("raw_503", TransientSendError, None, "answered 503"),
    ("drop", TransientSendError, None, "cannot reach the Graph API"),
    (131026, PermanentSendError, None, "cannot receive this message"),
    (131047, PermanentSendError, None, "only a template message"),
    (190, CredentialsInvalid, None, "fix the device's config"),
]


@pytest.mark.parametrize(
    ("failure", "kind", "retry_after", "words"),
    ERRORS,
    ids=[str(failure) for failure, *_ in ERRORS],
)
async def test_each_graph_error_is_a_retry_a_failure_or_refused_credentials(
    graph: GraphStandin,
    open_transport: Open,
    failure: Failure,
    kind: type[Exception],
    retry_after: float | None,
    words: str,
) -> None:
    events = RecordingEvents()
    transport = open_transport(cloud_config_json(graph), events)
    graph.fail_next(failure)

    with pytest.raises((TransientSendError, PermanentSendError)) as raised:
        await transport.send(outbound(TextMessage(body="Halo")))

    assert type(raised.value) is kind
    assert words in str(raised.value)
    assert graph.access_token not in str(raised.value)
    if isinstance(raised.value, TransientSendError):
        assert raised.value.retry_after == retry_after
    credentials = kind is CredentialsInvalid
    assert events.states == (["credentials_invalid"] if credentials else [])


async def test_refused_credentials_are_reported_once_and_a_later_success_clears_them(
    graph: GraphStandin, open_transport: Open
) -> None:
    events = RecordingEvents()
    transport = open_transport(cloud_config_json(graph), events)
    graph.fail_next(190, times=2)
    for _ in range(2):
        with pytest.raises(CredentialsInvalid):
            await transport.send(outbound(TextMessage(body="Halo")))
    await transport.send(outbound(TextMessage(body="Halo")))
    assert events.states == ["credentials_invalid", "connected"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"access_token": "EAAG-someone-elses"}, "Invalid OAuth access token"),
        ({"phone_number_id": "100000000000001"}, "does not exist"),
    ],
    ids=["wrong token", "unknown phone_number_id"],
)
async def test_a_config_meta_refuses_puts_the_device_in_credentials_invalid(
    graph: GraphStandin, open_transport: Open, overrides: dict[str, str], words: str
) -> None:
    events = RecordingEvents()
    transport = open_transport(cloud_config_json(graph, **overrides), events)
    with pytest.raises(CredentialsInvalid) as raised:
        await transport.send(outbound(TextMessage(body="Halo")))
    assert words in str(raised.value)
    assert "EAAG-someone-elses" not in str(raised.value)
    assert events.states == ["credentials_invalid"]


async def test_a_base_url_that_is_not_graph_fails_saying_so(
    graph: GraphStandin, open_transport: Open
) -> None:
    config = json.loads(cloud_config_json(graph))
    config["base_url"] = f"{graph.base_url}/not/graph"
    with pytest.raises(PermanentSendError, match="answered 404 without an error; is base_url"):
        await open_transport(json.dumps(config), RecordingEvents()).send(
            outbound(TextMessage(body="Halo"))
        )


async def test_a_base_url_in_a_private_network_is_refused(
    graph: GraphStandin, open_transport: Open
) -> None:
    # Only a stand-in on this machine may be reached: a device's config must
    # not make Kurir reach into the operator's network.
    config = cloud_config_json(graph, base_url="https://10.20.30.40")
    with pytest.raises(PermanentSendError, match=r"10\.20\.30\.40 is a private address"):
        await open_transport(config, RecordingEvents()).send(outbound(TextMessage(body="Halo")))


async def test_nobody_listening_is_a_retry(graph: GraphStandin, open_transport: Open) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again before the send: nothing listens
    config = cloud_config_json(graph, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientSendError, match="cannot reach the Graph API"):
        await open_transport(config, RecordingEvents()).send(outbound(TextMessage(body="Halo")))


async def test_sends_keep_the_devices_rate(graph: GraphStandin, open_transport: Open) -> None:
    transport = open_transport(cloud_config_json(graph, messages_per_second=50), RecordingEvents())
    started = time.monotonic()
    for _ in range(11):
        await transport.send(outbound(TextMessage(body="Halo")))
    # Eleven sends at 50 a second are ten intervals of 20 ms apart.
    assert time.monotonic() - started >= 0.2
    assert len(graph.sent) == 11
