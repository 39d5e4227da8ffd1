"""The API document: OpenAPI 3.1, built from the structs the handlers read and write.

The schemas of bodies come from requests.py and types.py, so they cannot
drift from the handlers. What a struct cannot say (paths, parameters,
authentication, the errors each endpoint gives, with an example message for
each) is the table of operations below, with those of devices, webhooks and
broadcasts from modules of their own; `kurir.api.openapi_document` turns the
table into the document. Served at ``GET /openapi.json`` and rendered by the
page at ``GET /docs``.
"""

from typing import Any

from kurir.api.openapi_broadcasts import BROADCAST_OPERATIONS
from kurir.api.openapi_common import BUTTON_CONTENT, DEVICE, DEVICE_NOT_FOUND, MESSAGE_ID
from kurir.api.openapi_devices import DEVICE_OPERATIONS, PAIRING_OPERATIONS
from kurir.api.openapi_document import document_of
from kurir.api.openapi_webhooks import WEBHOOK_OPERATIONS
from kurir.api.operation import BAD_LIMIT as _BAD_LIMIT
from kurir.api.operation import BODY as _BODY
from kurir.api.operation import LIMIT as _LIMIT
from kurir.api.operation import UNAUTHORIZED as _UNAUTHORIZED
from kurir.api.operation import UNAVAILABLE as _UNAVAILABLE
from kurir.api.operation import Operation, Parameter, Problem, before_cursor
from kurir.api.requests import (
    REQUEST_TYPES,
    SendButtonRequest,
    SendMediaRequest,
    SendTemplateRequest,
    SendTextRequest,
)
from kurir.api.types import (
    CancelResponse,
    HealthResponse,
    InboundListResponse,
    MessageResponse,
    SendResponse,
)
from kurir.api.webhook_types import WEBHOOK_REQUEST_TYPES

# -- what many operations share ----------------------------------------------------------------


_MESSAGE_ID_PATH = Parameter(
    name="message_id",
    location="path",
    description="The id `/send/…` answered with.",
    schema={"type": "string", "pattern": "^3EB0[0-9A-F]{16}$"},
    example=MESSAGE_ID,
    required=True,
)
_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    location="header",
    description="A retry with the same key and body gets the first answer and sends nothing "
    "twice; the same key with another body is refused with 409. 1 to 255 characters after "
    "trimming.",
    schema={"type": "string", "minLength": 1, "maxLength": 255},
    example="order-1042-shipped",
)

_SEND = (
    _UNAUTHORIZED,
    Problem(429, "Rate limit exceeded; slow down"),
    Problem(429, "Too many requests are waiting to be stored; retry shortly"),
    *_BODY,
    Problem(422, "Idempotency-Key must be 1 to 255 characters"),
    Problem(422, "device is required"),
    Problem(422, "phone is not a valid phone number: '0811'"),
    Problem(
        422,
        "schedule must be a date and time as 'Y-m-d H:i:s' (for example 2026-12-31 09:30:00) "
        "or ISO 8601, got 'tomorrow'",
    ),
    Problem(422, "schedule is too far ahead: at most 365 days from now"),
    DEVICE_NOT_FOUND,
    Problem(
        409,
        f"Idempotency-Key was already used for a different request (message {MESSAGE_ID})",
    ),
    _UNAVAILABLE,
)
_SENT = {
    "status": "ok",
    "message_id": MESSAGE_ID,
    "from": "628122222222",
    "to": "628111111111",
    "message": "Success",
}
_SEND_DESCRIPTION = (
    "Answered once the message is durably stored; it is then sent on time, paced per device "
    "and retried on transient errors. The body may be JSON or a form (urlencoded or "
    "multipart), and a JSON body sent under another content type is read as JSON."
)
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        method="POST",
        path="/send/text",
        operation_id="sendText",
        tag="Sending",
        summary="Send a text message",
        description=_SEND_DESCRIPTION,
        request=SendTextRequest,
        response=SendResponse,
        response_example=_SENT,
        parameters=(_IDEMPOTENCY_KEY,),
        errors=(*_SEND, Problem(422, "message is 4097 characters; at most 4096 are allowed")),
    ),
    Operation(
        method="POST",
        path="/send/media",
        operation_id="sendMedia",
        tag="Sending",
        summary="Send a picture, video, audio or document from a URL",
        description=_SEND_DESCRIPTION,
        request=SendMediaRequest,
        response=SendResponse,
        response_example=_SENT,
        parameters=(_IDEMPOTENCY_KEY,),
        errors=(*_SEND, Problem(422, "url must be an http or https URL")),
    ),
    Operation(
        method="POST",
        path="/send/button",
        operation_id="sendButton",
        tag="Sending",
        summary="Send a button message (Alat WA's endpoint)",
        description=f"{_SEND_DESCRIPTION} The answer is Alat WA's, field for field.",
        request=SendButtonRequest,
        response=SendResponse,
        response_example=_SENT,
        parameters=(_IDEMPOTENCY_KEY,),
        errors=(
            *_SEND,
            Problem(422, "message_header is 61 characters; at most 60 are allowed"),
            Problem(422, "buttons must be an array of labels"),
            Problem(422, "buttons[1] repeats the label 'Ya'"),
            Problem(422, "buttons holds 11 labels; this device's transport sends at most 10"),
        ),
    ),
    Operation(
        method="POST",
        path="/send/template",
        operation_id="sendTemplate",
        tag="Sending",
        summary="Send a message template (WhatsApp's Cloud API devices only)",
        description=f"{_SEND_DESCRIPTION} WhatsApp delivers only an approved template to a "
        "recipient who has not written to the number in the last 24 hours; a `cloud` device "
        "sends it by name and language, with the parameters in `components` passed to Meta as "
        "given. Devices on other transports refuse it.",
        request=SendTemplateRequest,
        request_example={
            "device": "dev-cloud",
            "phone": "08111111111",
            "template": "order_shipped",
            "language": "id",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Budi"}]}],
        },
        response=SendResponse,
        response_example=_SENT,
        parameters=(_IDEMPOTENCY_KEY,),
        errors=(
            *_SEND,
            Problem(422, "the sandbox transport cannot send template messages"),
            Problem(
                422,
                "template must be the template's name: 1 to 512 lower-case letters, digits and _",
            ),
            Problem(422, "language must be a language code such as id or en_US, not 'Indonesia'"),
            Problem(422, "components[0] must be an object with a type (header, body, button)"),
        ),
    ),
    Operation(
        method="GET",
        path="/message/{message_id}",
        operation_id="getMessage",
        tag="Messages",
        summary="A message and its life so far",
        description="Its `type` (text, media, button, template) and `content`, its `status` "
        "(scheduled, queued, sending, sent, delivered, read, failed, cancelled), when it "
        "reached each, its attempts and last error, and the recipient's button reply. Only "
        "the account that sent it sees it.",
        response=MessageResponse,
        response_example={
            "status": "ok",
            "data": {
                "message_id": MESSAGE_ID,
                "device": DEVICE,
                "from": "628122222222",
                "to": "628111111111",
                "type": "button",
                "status": "read",
                "content": BUTTON_CONTENT,
                "scheduled_for": "2026-05-04T09:30:00.000+07:00",
                "attempts": 1,
                "last_error": None,
                "reply": {"button": "Opsi 2", "index": 2, "at": "2026-05-04T09:31:12.345+07:00"},
                "timestamps": {
                    "created": "2026-05-04T09:30:00.000+07:00",
                    "sending": "2026-05-04T09:30:00.012+07:00",
                    "sent": "2026-05-04T09:30:00.210+07:00",
                    "delivered": "2026-05-04T09:30:00.215+07:00",
                    "read": "2026-05-04T09:31:12.345+07:00",
                },
                "broadcast": None,
            },
        },
        parameters=(_MESSAGE_ID_PATH,),
        errors=(_UNAUTHORIZED, Problem(404, f"message {MESSAGE_ID} not found"), _UNAVAILABLE),
    ),
    Operation(
        method="DELETE",
        path="/message/{message_id}",
        operation_id="cancelMessage",
        tag="Messages",
        summary="Cancel a message no worker has started sending",
        description="A message already being sent, or sent, can no longer be cancelled (409).",
        response=CancelResponse,
        response_example={"status": "ok", "message_id": MESSAGE_ID, "message": "Cancelled"},
        parameters=(_MESSAGE_ID_PATH,),
        errors=(
            _UNAUTHORIZED,
            Problem(404, f"message {MESSAGE_ID} not found"),
            Problem(409, f"message {MESSAGE_ID} is already sent; it can no longer be cancelled"),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/messages/inbound",
        operation_id="listInboundMessages",
        tag="Messages",
        summary="Messages your recipients sent, newest first",
        description="Page through older messages by passing the answer's `next_cursor` as "
        "`before`.",
        response=InboundListResponse,
        response_example={
            "status": "ok",
            "data": [
                {
                    "message_id": "3EB0C0FFEE0123456789",
                    "device": DEVICE,
                    "from": "628111111111",
                    "sender_name": "Budi",
                    "type": "text",
                    "text": "Kapan barangnya sampai?",
                    "media_url": None,
                    "quoted_message_id": MESSAGE_ID,
                    "received_at": "2026-05-04T09:31:12.345+07:00",
                }
            ],
            "next_cursor": None,
        },
        parameters=(
            _LIMIT,
            before_cursor("3EB0C0FFEE0123456789"),
            Parameter(
                name="device",
                location="query",
                description="Only what reached this device.",
                schema={"type": "string", "minLength": 1},
                example=DEVICE,
            ),
        ),
        errors=(
            _UNAUTHORIZED,
            DEVICE_NOT_FOUND,
            _BAD_LIMIT,
            Problem(422, "before must be a cursor from a previous answer"),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/messages/inbound/{message_id}/media",
        operation_id="getInboundMedia",
        tag="Messages",
        summary="The file an inbound message carried",
        description="What an inbound message's `media_url` names, relative to the address "
        "you call Kurir at. The file is kept when the message arrives (a WhatsApp Web "
        "device's picture, video, audio, document or sticker, within WhatsApp's size for "
        "its type); it comes as an attachment of the type the sender's app gave it.",
        response=None,
        response_example="(the file's bytes)",
        response_media_type="application/octet-stream",
        parameters=(
            Parameter(
                name="message_id",
                location="path",
                description="The inbound message's `message_id`.",
                schema={"type": "string", "pattern": "^3EB0[0-9A-F]{16}$"},
                example=MESSAGE_ID,
                required=True,
            ),
        ),
        errors=(
            _UNAUTHORIZED,
            Problem(404, f"no file of an inbound message '{MESSAGE_ID}'"),
            _UNAVAILABLE,
        ),
    ),
    *DEVICE_OPERATIONS,
    *WEBHOOK_OPERATIONS,
    *PAIRING_OPERATIONS,
    Operation(
        method="GET",
        path="/healthz",
        operation_id="health",
        tag="Operations",
        summary="Whether the server and its database answer",
        description="For load balancers and monitoring; needs no key.",
        response=HealthResponse,
        response_example={"status": "ok", "database": "ok"},
        errors=(_UNAVAILABLE,),
        authenticated=False,
    ),
    Operation(
        method="GET",
        path="/openapi.json",
        operation_id="apiDocument",
        tag="Operations",
        summary="This document",
        description="OpenAPI 3.1, for code generators and API tools.",
        response=None,
        response_example={"openapi": "3.1.0"},
        authenticated=False,
    ),
    Operation(
        method="GET",
        path="/docs",
        operation_id="apiDocumentation",
        tag="Operations",
        summary="This document as a page to read",
        description="Served with the package; it loads nothing from elsewhere.",
        response=None,
        response_example="<!doctype html>…",
        response_media_type="text/html",
        authenticated=False,
    ),
    *BROADCAST_OPERATIONS,
)


def build_document() -> dict[str, Any]:
    """The whole document, as a JSON-ready mapping."""
    return document_of(OPERATIONS, (*REQUEST_TYPES, *WEBHOOK_REQUEST_TYPES))
