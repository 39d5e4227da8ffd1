"""Response bodies. Field order is the order clients see."""

from typing import Annotated, Any

import msgspec


class SendResponse(msgspec.Struct, kw_only=True):
    """Alat WA's documented success body, exactly, in its field order."""

    status: str = "ok"
    message_id: str
    from_: str = msgspec.field(name="from")
    to: str
    message: str = "Success"


class ButtonReply(msgspec.Struct, frozen=True):
    button: str
    index: int
    at: str


class MessageContent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A message's content under the request's own field names; only its kind's are present."""

    #: text and button messages
    message: str | None = None
    #: button messages, and how the buttons are laid out
    message_header: str | None = None
    message_footer: str | None = None
    buttons: tuple[str, ...] | None = None
    layout: str | None = None
    #: media messages; ``type`` is absent until the file's type is known
    url: str | None = None
    type: str | None = None
    caption: str | None = None
    filename: str | None = None
    #: template messages
    template: str | None = None
    language: str | None = None
    components: tuple[dict[str, Any], ...] | None = None


class MessageData(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    device: str
    from_: str = msgspec.field(name="from")
    to: str
    #: text, media or button
    type: str
    status: str
    content: MessageContent
    #: When it is due; null for a broadcast's message not planned yet (its turn has not
    #: come, or the broadcast is paused).
    scheduled_for: str | None
    attempts: int
    last_error: str | None
    reply: ButtonReply | None
    #: When the message reached each status it has been through.
    timestamps: dict[str, str]
    #: The id of the broadcast it belongs to; null for a message sent on its own.
    broadcast: str | None = None


class MessageResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: MessageData


class DeviceProfileData(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the provider said of the number when the device was added."""

    display_phone: Annotated[
        str | None, msgspec.Meta(description="The number as WhatsApp shows it.")
    ] = None
    verified_name: Annotated[
        str | None, msgspec.Meta(description="The business name WhatsApp verified.")
    ] = None
    quality_rating: Annotated[
        str | None,
        msgspec.Meta(description="WhatsApp's rating of the number's messages: GREEN, YELLOW, RED."),
    ] = None


class DeviceData(msgspec.Struct, frozen=True):
    device: str
    phone: str
    transport: str
    state: str
    min_interval_ms: int
    max_interval_ms: int
    created_at: str
    #: null for a transport whose provider has nothing to say (the sandbox).
    profile: DeviceProfileData | None = None


class DeviceListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: list[DeviceData]


class CancelResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    message_id: str
    message: str = "Cancelled"


class SandboxReplyResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    message_id: str
    button: str
    index: int
    message: str = "Reply recorded"


class SandboxDeliveryData(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    to: str
    #: text, media or button
    type: str
    content: MessageContent
    delivered_at: str
    #: How often the gateway sent it; WhatsApp, like the sandbox, delivers a resent id once.
    sends: int


class SandboxDeliveriesResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: list[SandboxDeliveryData]


class PairingResponse(msgspec.Struct, kw_only=True):
    """A WhatsApp Web device's pairing: its state and the code the phone is to scan or type."""

    status: str = "ok"
    device: str
    #: unpaired, pairing, connected, disconnected, logged_out, banned: …, error: …; idle
    #: while no worker holds the device.
    state: str
    #: The QR code's text while pairing by QR; WhatsApp replaces it every 20 seconds or so.
    qr: str | None
    #: The same QR code as a PNG, as a data URI for an <img> tag.
    qr_image: str | None
    #: The code to type on the phone while pairing by code.
    pair_code: str | None
    qr_updated_at: str | None
    #: How the latest pairing ended: paired, expired, logged out: …
    last_result: str | None
    message: str | None = None


class NumberCheck(msgspec.Struct, frozen=True, kw_only=True):
    #: Country code and number, digits only.
    phone: str
    on_whatsapp: bool


class CheckNumbersResponse(msgspec.Struct, kw_only=True):
    """What WhatsApp said of each number asked about, in the order asked."""

    status: str = "ok"
    device: str
    data: list[NumberCheck]


class ReceivedResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    message: str = "Message received"


class WebhookAccepted(msgspec.Struct, kw_only=True):
    """A provider's webhook, taken."""

    status: str = "ok"


class HealthResponse(msgspec.Struct):
    status: str = "ok"
    database: str = "ok"


class InboundMessageData(msgspec.Struct, frozen=True, kw_only=True):
    """A message a recipient sent to one of the account's devices."""

    message_id: str
    device: str
    from_: Annotated[str, msgspec.Meta(description="The sender: country code and number.")] = (
        msgspec.field(name="from")
    )
    sender_name: Annotated[
        str | None, msgspec.Meta(description="The name the sender gave WhatsApp, if known.")
    ]
    type: Annotated[
        str,
        msgspec.Meta(description="text, image, video, audio, document, location, sticker, …"),
    ]
    text: Annotated[
        str | None, msgspec.Meta(description="The text, a caption, or the button's label.")
    ]
    media_url: Annotated[
        str | None,
        msgspec.Meta(
            description="Where the file it carried is fetched, with your key: a path of "
            "this API (`/messages/inbound/{message_id}/media`), for media Kurir kept; "
            "else null."
        ),
    ]
    quoted_message_id: Annotated[
        str | None,
        msgspec.Meta(description="The message it answers, when it quotes one or is a button."),
    ]
    received_at: str


class InboundListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: Annotated[list[InboundMessageData], msgspec.Meta(description="Newest first.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Pass as `before` for the next, older page; null on the last."),
    ]
