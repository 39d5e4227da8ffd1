"""What a worker and a device's session process say to each other.

Frames travel over a Unix socket pair: a 4-byte big-endian length, then one
msgpack-encoded struct of the unions below, tagged by ``op``. The worker
opens with `Hello`, naming `VERSION`; a session that speaks another version
answers nothing and exits, and the worker reports the mismatch. Requests
carry a number that their `Answer` repeats; everything else a session says
(QR codes, states, receipts, inbound messages) comes unasked.

Only plain values cross: phone numbers, texts and provider ids, never
neonize's objects, so nothing on the worker's side imports neonize.
"""

import asyncio
import struct

import msgspec

#: Bumped whenever a frame changes shape; worker and session must agree.
VERSION = 2

#: A 100 MB document and its envelope fit; anything larger is a broken peer.
MAX_FRAME = 128 * 1024 * 1024

_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a frame of this protocol."""


# -- worker to session ---------------------------------------------------------


class Hello(msgspec.Struct, frozen=True, tag="hello", tag_field="op"):
    version: int
    #: A name for the device's client and for logs (never a secret).
    device: str
    #: Where the session keeps its keys: a SQLite file, or a PostgreSQL DSN.
    store: str
    #: The linked account's JID once paired; None before.
    jid: str | None = None
    #: Start a new device in a shared store instead of resuming the store's first one.
    new_device: bool = False
    #: Pair by code with this phone instead of showing QR codes (when not paired).
    pair_phone: str | None = None
    #: The largest inbound file the session downloads, by type (image, video,
    #: audio, document, sticker); a type not named is not downloaded.
    media_limits: dict[str, int] = msgspec.field(default_factory=dict)
    #: How long one inbound file's download may take before the message is
    #: reported without it.
    download_timeout_s: float = 60.0


class SendText(msgspec.Struct, frozen=True, tag="send_text", tag_field="op"):
    request: int
    to: str
    text: str


class SendMedia(msgspec.Struct, frozen=True, tag="send_media", tag_field="op"):
    request: int
    to: str
    #: image, video, audio or document.
    media_type: str
    content_type: str
    data: bytes
    caption: str | None = None
    filename: str | None = None


class SendButtons(msgspec.Struct, frozen=True, tag="send_buttons", tag_field="op"):
    """Native-flow buttons: quick replies up to three, a single-select list beyond."""

    request: int
    to: str
    header: str
    body: str
    footer: str
    labels: tuple[str, ...]


class RequestPairCode(msgspec.Struct, frozen=True, tag="pair_code", tag_field="op"):
    request: int
    phone: str


class LogOut(msgspec.Struct, frozen=True, tag="logout", tag_field="op"):
    request: int


class CheckNumbers(msgspec.Struct, frozen=True, tag="check_numbers", tag_field="op"):
    request: int
    phones: tuple[str, ...]


class Ping(msgspec.Struct, frozen=True, tag="ping", tag_field="op"):
    request: int


class Stop(msgspec.Struct, frozen=True, tag="stop", tag_field="op"):
    pass


ToSession = (
    Hello
    | SendText
    | SendMedia
    | SendButtons
    | RequestPairCode
    | LogOut
    | CheckNumbers
    | Ping
    | Stop
)


# -- session to worker ---------------------------------------------------------


class Ready(msgspec.Struct, frozen=True, tag="ready", tag_field="op"):
    version: int
    pid: int


class Answer(msgspec.Struct, frozen=True, tag="answer", tag_field="op"):
    """The outcome of one request: ``value``/``values``, or an ``error``."""

    request: int
    value: str | None = None
    values: tuple[str, ...] = ()
    error: str | None = None
    #: The error will not go away by trying again (the message fails at once).
    permanent: bool = False


class QrCode(msgspec.Struct, frozen=True, tag="qr", tag_field="op"):
    code: str


class PairCode(msgspec.Struct, frozen=True, tag="pair_code_shown", tag_field="op"):
    code: str


class StateChange(msgspec.Struct, frozen=True, tag="state", tag_field="op"):
    """The session's connection: see `kurir.transports.whatsapp_web.states`."""

    state: str
    detail: str | None = None
    jid: str | None = None
    #: When a temporary ban ends (ms since the epoch).
    until: int | None = None


class ReceiptSeen(msgspec.Struct, frozen=True, tag="receipt", tag_field="op"):
    provider_ids: tuple[str, ...]
    #: delivered or read.
    status: str
    at: int


class InboundSeen(msgspec.Struct, frozen=True, tag="inbound", tag_field="op"):
    provider_id: str
    sender: str
    #: text, image, video, audio, document, sticker, location, contact
    type: str
    at: int
    text: str | None = None
    sender_name: str | None = None
    #: The provider id of the message this one quotes.
    quoted: str | None = None
    #: An inbound file, downloaded and decrypted by the session; None when the
    #: message has none, or it was too large or could not be downloaded in time.
    media: bytes | None = None
    #: The file's type as the sender's app gave it, and a document's name.
    content_type: str | None = None
    filename: str | None = None


class ButtonSeen(msgspec.Struct, frozen=True, tag="button", tag_field="op"):
    """A native, list, legacy button or template reply, traced by ``quoted``."""

    provider_id: str
    sender: str
    quoted: str
    at: int
    #: The id the button was sent with ("1", "2", …), when the reply carries it.
    button_id: str | None = None
    label: str | None = None
    sender_name: str | None = None


ToWorker = Ready | Answer | QrCode | PairCode | StateChange | ReceiptSeen | InboundSeen | ButtonSeen

_ENCODER = msgspec.msgpack.Encoder()
_TO_SESSION = msgspec.msgpack.Decoder(ToSession)
_TO_WORKER = msgspec.msgpack.Decoder(ToWorker)


def encode_frame(message: msgspec.Struct) -> bytes:
    body = _ENCODER.encode(message)
    return _LENGTH.pack(len(body)) + body


def decode_to_session(body: bytes) -> ToSession:
    try:
        return _TO_SESSION.decode(body)
    except msgspec.DecodeError as error:
        raise ProtocolError(f"not a frame of protocol version {VERSION}: {error}") from None


def decode_to_worker(body: bytes) -> ToWorker:
    try:
        return _TO_WORKER.decode(body)
    except msgspec.DecodeError as error:
        raise ProtocolError(f"not a frame of protocol version {VERSION}: {error}") from None


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body, or None at a clean end of the stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise ProtocolError("the stream ended inside a frame's length") from None
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ProtocolError(f"a frame of {length} bytes is over the limit of {MAX_FRAME}")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ProtocolError("the stream ended inside a frame") from None
