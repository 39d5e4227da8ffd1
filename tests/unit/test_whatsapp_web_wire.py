"""The real neonize, offline: outgoing protobufs, events read back, QR codes, key stores.

Nothing here connects anywhere: messages are built and serialised with
neonize's classes, events go through neonize's own decoding
(``Event.execute``, as Go hands them over), and the key stores are created
by whatsmeow itself through neonize's Go library.
"""

import ctypes
import io
import json
import queue
from pathlib import Path
from typing import Any

import pytest
import segno
from neonize.client import ClientFactory, NewClient
from neonize.events import MessageEv, ReceiptEv
from neonize.exc import DownloadError
from neonize.proto.Neonize_pb2 import UploadResponse
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ButtonsResponseMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    InteractiveResponseMessage,
    ListResponseMessage,
    LocationMessage,
    Message,
    StickerMessage,
    TemplateButtonReplyMessage,
)

from kurir.domain.buttons import ButtonMessage
from kurir.transports.whatsapp_web import wire
from kurir.transports.whatsapp_web.downloads import InboundFiles
from kurir.transports.whatsapp_web.keystore import key_location
from kurir.transports.whatsapp_web.layout import buttons_as_text
from kurir.transports.whatsapp_web.protocol import ButtonSeen, InboundSeen, ReceiptSeen
from tests.support.whatsapp_fake import message_event, receipt_event

UPLOAD = UploadResponse(
    url="https://mmg.whatsapp.net/x",
    DirectPath="/v/x",
    Handle="",
    MediaKey=b"k" * 32,
    FileEncSHA256=b"e" * 32,
    FileSHA256=b"s" * 32,
    FileLength=1234,
)


def roundtrip(message: Any) -> Any:
    return Message.FromString(message.SerializeToString())


def test_text_is_a_plain_conversation() -> None:
    assert roundtrip(wire.text_message("Halo @628111 https://x.y")).conversation == (
        "Halo @628111 https://x.y"
    )


def test_buttons_as_text_read_as_the_issue_shows() -> None:
    message = ButtonMessage(
        header="Header", body="Pilih salah satu:", footer="Footer", buttons=("Opsi 1", "Opsi 2")
    )
    assert buttons_as_text(message) == (
        "*Header*\nPilih salah satu:\n\n1. Opsi 1\n2. Opsi 2\n\n_Footer_"
    )


def test_each_media_type_builds_its_own_message() -> None:
    for media_type, field in (
        ("image", "imageMessage"),
        ("video", "videoMessage"),
        ("audio", "audioMessage"),
        ("document", "documentMessage"),
    ):
        built = roundtrip(
            wire.media_message(
                media_type=media_type,
                content_type="application/pdf" if media_type == "document" else "x/y",
                upload=UPLOAD,
                caption=None if media_type == "audio" else "Cap",
                filename="invoice.pdf" if media_type == "document" else None,
            )
        )
        part = getattr(built, field)
        assert part.directPath == "/v/x"
        assert part.fileLength == 1234
        assert part.mediaKey == b"k" * 32
    document = roundtrip(
        wire.media_message(
            media_type="document",
            content_type="application/pdf",
            upload=UPLOAD,
            caption="Invoice",
            filename="invoice.pdf",
        )
    ).documentMessage
    assert (document.fileName, document.caption, document.mimetype) == (
        "invoice.pdf",
        "Invoice",
        "application/pdf",
    )


def test_an_image_gets_a_jpeg_preview() -> None:
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (400, 300), "red").save(png, format="PNG")
    preview = wire.image_thumbnail(png.getvalue())
    assert preview is not None
    assert preview.startswith(b"\xff\xd8")
    assert wire.image_thumbnail(b"not an image") is None


def test_native_buttons_are_quick_replies_then_a_list_never_legacy_buttons() -> None:
    three = roundtrip(wire.native_buttons(header="H", body="B", footer="F", labels=("A", "B", "C")))
    assert not three.HasField("buttonsMessage")
    flow = three.interactiveMessage.nativeFlowMessage
    assert [b.name for b in flow.buttons] == ["quick_reply"] * 3
    assert [json.loads(b.buttonParamsJSON) for b in flow.buttons][1] == {
        "display_text": "B",
        "id": "2",
    }
    assert three.interactiveMessage.body.text == "B"
    four = roundtrip(
        wire.native_buttons(header="H", body="B", footer="F", labels=("A", "B", "C", "D"))
    )
    (single,) = four.interactiveMessage.nativeFlowMessage.buttons
    rows = json.loads(single.buttonParamsJSON)["sections"][0]["rows"]
    assert single.name == "single_select"
    assert [(row["id"], row["title"]) for row in rows][3] == ("4", "D")


def test_jids_read_back_as_written() -> None:
    for text in ("628122222222:7@s.whatsapp.net", "628122222222@s.whatsapp.net", "1234.2:5@lid"):
        assert wire.jid_text(wire.parse_jid(text)) == text
    assert wire.user_jid("628111111111").Server == "s.whatsapp.net"


class _Heard:
    """A real neonize client's event dispatch, with handlers that keep what they hear."""

    def __init__(self) -> None:
        self.client = NewClient("unused.db", uuid="unit-test")
        self.heard: list[Any] = []
        for event_type in (MessageEv, ReceiptEv):
            self.client.event(event_type)(lambda _client, event: self.heard.append(event))

    def feed(self, event: Any, code: int) -> Any:
        data = event.SerializeToString()
        buffer = ctypes.create_string_buffer(data, len(data))
        self.client.event.execute(0, ctypes.addressof(buffer), len(data), code)
        return self.heard.pop()


def test_every_kind_of_reply_is_read_from_neonize_events() -> None:
    heard = _Heard()
    context = ContextInfo(stanzaID="3EB0AAAA")
    cases: list[tuple[Any, Any]] = [
        (Message(conversation="Halo"), InboundSeen),
        (
            Message(extendedTextMessage=ExtendedTextMessage(text="2", contextInfo=context)),
            InboundSeen,
        ),
        (Message(imageMessage=ImageMessage(caption="foto", contextInfo=context)), InboundSeen),
        (
            Message(
                interactiveResponseMessage=InteractiveResponseMessage(
                    body=InteractiveResponseMessage.Body(text="Opsi 2"),
                    nativeFlowResponseMessage=InteractiveResponseMessage.NativeFlowResponseMessage(
                        name="quick_reply", paramsJSON='{"id":"2"}', version=3
                    ),
                    contextInfo=context,
                )
            ),
            ButtonSeen,
        ),
        (
            Message(
                listResponseMessage=ListResponseMessage(
                    title="Opsi 4",
                    singleSelectReply=ListResponseMessage.SingleSelectReply(selectedRowID="4"),
                    contextInfo=context,
                )
            ),
            ButtonSeen,
        ),
        (
            Message(
                buttonsResponseMessage=ButtonsResponseMessage(
                    selectedButtonID="1", selectedDisplayText="Opsi 1", contextInfo=context
                )
            ),
            ButtonSeen,
        ),
        (
            Message(
                templateButtonReplyMessage=TemplateButtonReplyMessage(
                    selectedID="",
                    selectedDisplayText="Opsi 3",
                    selectedIndex=2,
                    contextInfo=context,
                )
            ),
            ButtonSeen,
        ),
    ]
    read = []
    for content, kind in cases:
        event = heard.feed(
            message_event("628111111111", content, message_id="3A01", name="Budi"), 17
        )
        frame = wire.read_message(event, wire.sender_phone(event.Info.MessageSource) or "")
        assert isinstance(frame, kind)
        read.append(frame)
    assert read[0].text == "Halo"
    assert read[1].quoted == "3EB0AAAA"
    assert (read[2].type, read[2].text) == ("image", "foto")
    assert [(f.quoted, f.button_id) for f in read[3:]] == [
        ("3EB0AAAA", "2"),
        ("3EB0AAAA", "4"),
        ("3EB0AAAA", "1"),
        ("3EB0AAAA", "3"),
    ]
    lid = heard.feed(
        message_event("628111111111", Message(conversation="x"), message_id="3A02", lid="998877"),
        17,
    )
    assert wire.sender_phone(lid.Info.MessageSource) == "628111111111"
    receipt = heard.feed(receipt_event("628111111111", ["3EB0AAAA"], "read"), 18)
    assert wire.read_receipt(receipt) == ReceiptSeen(
        provider_ids=("3EB0AAAA",), status="read", at=receipt.Timestamp * 1000
    )


def test_a_qr_code_renders_as_a_png_data_uri() -> None:
    uri = segno.make_qr("2@abc,def,AQID").png_data_uri(scale=4, border=2)
    assert uri.startswith("data:image/png;base64,iVBOR")


def test_whatsmeow_creates_its_key_store_in_a_sqlite_file(tmp_path: Path) -> None:
    location, shared = key_location(f"sqlite:///{tmp_path / 'kurir.db'}", 7)
    assert not shared
    assert location == str(tmp_path / "whatsapp-web" / "device-7.db")
    Path(location).parent.mkdir()
    assert ClientFactory.get_all_devices_from_db(location) == []  # whatsmeow's schema, no device
    assert Path(location).stat().st_size > 0


def test_a_postgres_url_becomes_a_lib_pq_dsn_that_prefers_tls() -> None:
    location, shared = key_location("postgresql://kurir:s3cret@db.internal:5433/kurir", 7)
    assert shared
    assert location == "postgres://kurir:s3cret@db.internal:5433/kurir?sslmode=prefer"
    kept, _ = key_location("postgresql://k@h/db?sslmode=require", 1)
    assert kept.endswith("?sslmode=require")


def test_an_inbound_file_is_asked_for_out_of_its_wrappers() -> None:
    heard = _Heard()
    document = DocumentMessage(
        fileName="invoice.pdf",
        caption="tagihan",
        mimetype="application/pdf",
        fileLength=1234,
        fileSHA256=b"s" * 32,
        mediaKey=b"k" * 32,
        directPath="/v/t62.7119-24/1",
    )
    wrapped = Message(
        ephemeralMessage=FutureProofMessage(
            message=Message(
                documentWithCaptionMessage=FutureProofMessage(
                    message=Message(documentMessage=document)
                )
            )
        )
    )
    # Through neonize's own event decoding, as a session hears it.
    event = heard.feed(message_event("628111111111", wrapped, message_id="3A03"), 17)
    found = wire.download_of(event.Message)
    assert found is not None
    assert (found.kind, found.length, found.content_type, found.filename) == (
        "document",
        1234,
        "application/pdf",
        "invoice.pdf",
    )
    # What whatsmeow's DownloadAny is given: the part alone, at the top.
    assert found.message == Message(documentMessage=document)
    sticker = wire.download_of(Message(stickerMessage=StickerMessage(fileLength=9)))
    assert sticker is not None
    assert (sticker.kind, sticker.content_type, sticker.filename) == (
        "sticker",
        "application/octet-stream",
        None,
    )
    assert wire.download_of(Message(conversation="Halo")) is None
    assert wire.download_of(Message(locationMessage=LocationMessage())) is None


def test_neonizes_own_download_failing_leaves_the_message_without_its_file(
    tmp_path: Path,
) -> None:
    """The real client, never connected: its Go side refuses with neonize's DownloadError."""
    client = NewClient(str(tmp_path / "keys.db"), uuid="unit-download")
    heard: queue.Queue[Any] = queue.Queue()
    files = InboundFiles(client, limits={"image": 1000}, timeout_s=30, emit=heard.put)
    frame = InboundSeen(provider_id="3A04", sender="628111111111", type="image", at=1)
    picture = ImageMessage(
        directPath="/v/t62.7118-24/1",
        mediaKey=b"k" * 32,
        fileSHA256=b"s" * 32,
        fileEncSHA256=b"e" * 32,
        fileLength=10,
        mimetype="image/jpeg",
    )
    files.report(frame, Message(imageMessage=picture))
    assert heard.get(timeout=30) == frame  # reported, with no file
    with pytest.raises(DownloadError):
        client.download_any(Message(imageMessage=picture))
