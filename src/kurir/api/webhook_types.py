"""The webhook endpoints' request and response bodies, as requests.py and types.py are the rest's.

Requests are read with `convert_fields` like every other body, so JSON and
forms work alike; the document (openapi.py) is built from these structs.
"""

from typing import Annotated, Any

import msgspec

from kurir.domain.devices import MAX_DEVICE_ID
from kurir.domain.endpoints import MAX_ENDPOINT_DEVICES, MAX_URL_LENGTH
from kurir.domain.events import EVENTS, DeliveryStatus

WEBHOOK_ID = "wh_Zm9yLWV4YW1wbGUx"
DELIVERY_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85"

WebhookUrl = Annotated[
    str,
    msgspec.Meta(
        description="Where Kurir posts events: http or https, on a public address (loopback "
        "and private ones only where the server allows them). Required.",
        examples=["https://example.com/kurir/webhooks"],
        extra_json_schema={"format": "uri", "pattern": "^https?://", "maxLength": MAX_URL_LENGTH},
    ),
]
EventName = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(EVENTS)})]
EventNames = Annotated[
    list[EventName],
    msgspec.Meta(
        description="The events it hears of, at least one, each once: "
        + ", ".join(f"`{name}`" for name in EVENTS)
        + ". A form may send `events[]=…` for each.",
        examples=[["message.status", "message.reply"]],
        extra_json_schema={"minItems": 1, "maxItems": len(EVENTS), "uniqueItems": True},
    ),
]
# Not requests.Device: that module reads bodies (Starlette), which the client does not need.
DeviceId = Annotated[
    str,
    msgspec.Meta(extra_json_schema={"minLength": 1, "maxLength": MAX_DEVICE_ID, "pattern": r"\S"}),
]
DeviceIds = Annotated[
    list[DeviceId] | None,
    msgspec.Meta(
        description="Only the events of these devices of your account; absent or null: all "
        f"of them, those added later too. At most {MAX_ENDPOINT_DEVICES}, each once.",
        examples=[["dev-main"]],
    ),
]
Enabled = Annotated[
    bool,
    msgspec.Meta(
        description="false pauses the endpoint (no new deliveries are made for it); true "
        "resumes it, and enables one Kurir disabled, forgetting its failures.",
        examples=[False],
    ),
]


class CreateWebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A new endpoint; the answer holds its signing secret, shown this once."""

    url: WebhookUrl
    events: EventNames
    devices: DeviceIds = None


class UpdateWebhookRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Changes to an endpoint: only the fields given change (at least one)."""

    url: WebhookUrl | msgspec.UnsetType = msgspec.UNSET
    events: EventNames | msgspec.UnsetType = msgspec.UNSET
    devices: DeviceIds | msgspec.UnsetType = msgspec.UNSET
    enabled: Enabled | msgspec.UnsetType = msgspec.UNSET


class RedeliverRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Which deliveries to send again: one by its id, or every dead one since a time."""

    delivery: Annotated[
        str | None,
        msgspec.Meta(
            description="One delivery, whatever became of it (not while it is being "
            "delivered). Give this or `since`.",
            examples=[DELIVERY_ID],
        ),
    ] = None
    since: Annotated[
        str | int | None,
        msgspec.Meta(
            description="Every dead delivery whose event happened at or after this time: "
            "Unix seconds, or ISO 8601 (without an offset, in the server's time zone). Give "
            "this or `delivery`.",
            examples=["2026-05-04T09:30:00+07:00", 1777861800],
        ),
    ] = None


WEBHOOK_REQUEST_TYPES = (CreateWebhookRequest, UpdateWebhookRequest, RedeliverRequest)


class WebhookData(msgspec.Struct, frozen=True, kw_only=True):
    """An endpoint. Its secret is shown only when it is made (creation, rotation)."""

    id: str
    url: str
    events: list[str]
    devices: Annotated[list[str] | None, msgspec.Meta(description="null: all devices.")]
    enabled: bool
    disabled_reason: Annotated[
        str | None,
        msgspec.Meta(
            description="Why Kurir disabled it (every delivery failed until its deadline); "
            "null when it is enabled or you paused it."
        ),
    ]
    failing_since: Annotated[
        str | None,
        msgspec.Meta(description="The first failed attempt since the last delivered one."),
    ]
    secret_hint: Annotated[
        str, msgspec.Meta(description="The start of the signing secret, to tell it apart.")
    ]
    previous_secret_expires_at: Annotated[
        str | None,
        msgspec.Meta(
            description="Until when the secret the last rotation replaced still signs "
            "deliveries beside the new one; null when none does."
        ),
    ]
    pending_deliveries: Annotated[
        int, msgspec.Meta(description="Deliveries waiting to be made or being made.")
    ]
    dead_deliveries: Annotated[
        int, msgspec.Meta(description="Deliveries that gave up; they can be redelivered.")
    ]
    created_at: str
    updated_at: str


class WebhookSecretData(WebhookData, frozen=True, kw_only=True):
    """An endpoint with its new signing secret: store it now, it is not shown again."""

    secret: Annotated[
        str,
        msgspec.Meta(
            description="The Standard Webhooks secret (`whsec_` and base64) every delivery "
            "is signed with, in the `webhook-signature` header."
        ),
    ]


class WebhookResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: WebhookData


class WebhookSecretResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: WebhookSecretData


class WebhookListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: Annotated[list[WebhookData], msgspec.Meta(description="Oldest first.")]


class WebhookDeletedResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    id: str
    message: str = "Deleted"


class AttemptData(msgspec.Struct, frozen=True, kw_only=True):
    """One try at a delivery."""

    attempted_at: str
    status_code: Annotated[
        int | None, msgspec.Meta(description="The receiver's HTTP status; null: no answer.")
    ]
    latency_ms: int
    error: str | None
    response: Annotated[str, msgspec.Meta(description="The start of the answer's body.")]


class DeliveryData(msgspec.Struct, frozen=True, kw_only=True):
    """One event's delivery to the endpoint, with every attempt at it, oldest first."""

    id: Annotated[str, msgspec.Meta(description="Sent as `webhook-id` on every attempt.")]
    event: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(EVENTS)})]
    status: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(DeliveryStatus)})]
    event_at: str
    next_attempt_at: Annotated[
        str | None, msgspec.Meta(description="When it is tried next, while it is pending.")
    ]
    deadline_at: Annotated[
        str, msgspec.Meta(description="It is tried until then, and is then dead.")
    ]
    delivered_at: str | None
    payload: Annotated[dict[str, Any], msgspec.Meta(description="The body that is posted.")]
    attempts: list[AttemptData]


class DeliveryResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: DeliveryData


class DeliveryListResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: Annotated[list[DeliveryData], msgspec.Meta(description="Newest event first.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Pass as `before` for the next, older page; null on the last."),
    ]


class RedeliveredData(msgspec.Struct, frozen=True, kw_only=True):
    redelivered: Annotated[int, msgspec.Meta(description="How many deliveries are due again.")]


class RedeliverResponse(msgspec.Struct, kw_only=True):
    status: str = "ok"
    data: RedeliveredData
