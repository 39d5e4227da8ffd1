"""The API document: OpenAPI 3.1, built from the structs the handlers read and write.

The schemas of bodies come from requests.py and types.py, so they cannot
drift from the handlers. What a struct cannot say (paths, parameters,
authentication, the errors each endpoint gives, with an example message for
each) is the table of operations below. Served at ``GET /openapi.json`` and
rendered by the page at ``GET /docs``.
"""

import re
from importlib.metadata import version
from typing import Any

import msgspec

from kurir.api.errors import ErrorBody
from kurir.api.openapi_webhooks import WEBHOOK_OPERATIONS
from kurir.api.operation import BAD_LIMIT as _BAD_LIMIT
from kurir.api.operation import BODY as _BODY
from kurir.api.operation import LIMIT as _LIMIT
from kurir.api.operation import UNAUTHORIZED as _UNAUTHORIZED
from kurir.api.operation import UNAVAILABLE as _UNAVAILABLE
from kurir.api.operation import Operation, Parameter, Problem
from kurir.api.requests import (
    REQUEST_TYPES,
    CheckNumbersRequest,
    SandboxReplyRequest,
    SendButtonRequest,
    SendMediaRequest,
    SendTemplateRequest,
    SendTextRequest,
)
from kurir.api.types import (
    CancelResponse,
    CheckNumbersResponse,
    DeviceListResponse,
    HealthResponse,
    InboundListResponse,
    MessageResponse,
    PairingResponse,
    SandboxDeliveriesResponse,
    SandboxReplyResponse,
    SendResponse,
    WebhookAccepted,
)
from kurir.api.webhook_types import WEBHOOK_REQUEST_TYPES

_REF = "#/components/schemas/{name}"
_SECURITY_SCHEME = "apiKey"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


# -- what many operations share ----------------------------------------------------------------

MESSAGE_ID = "3EB0018F6A2B7C4D5E6F"
DEVICE = "dev-main"

_DEVICE_PATH = Parameter(
    name="device",
    location="path",
    description="The id of one of your account's devices.",
    schema={"type": "string", "minLength": 1},
    example=DEVICE,
    required=True,
)
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

_DEVICE_NOT_FOUND = Problem(404, "device 'dev-other' not found")
_NOT_SANDBOX = Problem(409, "device dev-main uses the whatsapp transport, not sandbox")
_CLOUD_DEVICE_PATH = Parameter(
    name="device",
    location="path",
    description="The id of a device on the `cloud` transport.",
    schema={"type": "string", "minLength": 1},
    example="dev-cloud",
    required=True,
)
_NO_CLOUD_DEVICE = Problem(404, "no cloud device 'dev-other'")
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
    _DEVICE_NOT_FOUND,
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
_CONTENT = {
    "message_header": "Header",
    "message": "Pilih salah satu:",
    "message_footer": "Footer",
    "buttons": ["Opsi 1", "Opsi 2"],
    "layout": "reply_buttons",
}

_PAIRING = {
    "status": "ok",
    "device": DEVICE,
    "state": "pairing",
    "qr": "2@kX3v…,Qm9v…,AQID",
    "qr_image": "data:image/png;base64,iVBORw0KGgo…",
    "pair_code": None,
    "qr_updated_at": "2026-05-04T09:30:00.215+07:00",
    "last_result": None,
    "message": None,
}

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
                "content": _CONTENT,
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
            Parameter(
                name="before",
                location="query",
                description="The `next_cursor` of the previous page: list what came before it.",
                schema={"type": "string", "minLength": 1},
                example="3EB0C0FFEE0123456789",
            ),
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
            _DEVICE_NOT_FOUND,
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
    Operation(
        method="GET",
        path="/device/list",
        operation_id="listDevices",
        tag="Devices",
        summary="Your account's devices",
        description="Each device's number, transport and pacing; `state` is `idle` while no "
        "worker holds the device, else what its transport last reported (`connected`; "
        "`credentials_invalid` when WhatsApp refuses a `cloud` device's token; `error: …` "
        "for a config that cannot be used). `profile` is what WhatsApp said of a `cloud` "
        "device's number when it was added.",
        response=DeviceListResponse,
        response_example={
            "status": "ok",
            "data": [
                {
                    "device": DEVICE,
                    "phone": "628122222222",
                    "transport": "sandbox",
                    "state": "connected",
                    "min_interval_ms": 0,
                    "max_interval_ms": 0,
                    "created_at": "2026-05-01T08:00:00.000+07:00",
                    "profile": None,
                },
                {
                    "device": "dev-cloud",
                    "phone": "628122222223",
                    "transport": "cloud",
                    "state": "connected",
                    "min_interval_ms": 0,
                    "max_interval_ms": 0,
                    "created_at": "2026-05-01T08:00:00.000+07:00",
                    "profile": {
                        "display_phone": "+62 812-2222-223",
                        "verified_name": "Toko Kurir",
                        "quality_rating": "GREEN",
                    },
                },
            ],
        },
        errors=(_UNAUTHORIZED, _UNAVAILABLE),
    ),
    Operation(
        method="POST",
        path="/sandbox/{device}/reply",
        operation_id="sandboxReply",
        tag="Sandbox",
        summary="Play the recipient on a sandbox device",
        description="Answers the latest message the sandbox delivered to `phone`: pressing a "
        "button records the reply on that message and marks it read. A `text` instead is a "
        'message from `phone` (answered `{"status": "ok", "message": "Message '
        'received"}`), unless it is a label or the number of a button of the latest button '
        "message sent to `phone` within `KURIR_REPLY_WINDOW_SECONDS`: then it is that reply, "
        "answered as a press is.",
        request=SandboxReplyRequest,
        request_example={"phone": "08111111111", "button": "Opsi 2"},
        response=SandboxReplyResponse,
        response_example={
            "status": "ok",
            "message_id": MESSAGE_ID,
            "button": "Opsi 2",
            "index": 2,
            "message": "Reply recorded",
        },
        parameters=(_DEVICE_PATH,),
        errors=(
            _UNAUTHORIZED,
            _DEVICE_NOT_FOUND,
            _NOT_SANDBOX,
            *_BODY,
            Problem(422, "button must be a button's label or its position (from 1)"),
            Problem(422, "button 'Opsi 9' is not one of the message's buttons"),
            Problem(422, "button must be between 1 and 3, got 4"),
            Problem(404, "device dev-main has sent nothing to 628111111111 yet"),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/sandbox/{device}/messages",
        operation_id="sandboxDeliveries",
        tag="Sandbox",
        summary="What the sandbox delivered, newest first",
        description="With how often each message was sent: like WhatsApp, the sandbox "
        "delivers a message sent again after a crash only once.",
        response=SandboxDeliveriesResponse,
        response_example={
            "status": "ok",
            "data": [
                {
                    "message_id": MESSAGE_ID,
                    "to": "628111111111",
                    "type": "button",
                    "content": _CONTENT,
                    "delivered_at": "2026-05-04T09:30:00.215+07:00",
                    "sends": 1,
                }
            ],
        },
        parameters=(_DEVICE_PATH, _LIMIT),
        errors=(_UNAUTHORIZED, _DEVICE_NOT_FOUND, _NOT_SANDBOX, _BAD_LIMIT, _UNAVAILABLE),
    ),
    *WEBHOOK_OPERATIONS,
    *(
        Operation(
            method=method,
            path=f"/device/{action}/{{device}}",
            operation_id=operation_id,
            tag="Pairing",
            summary=summary,
            description=description,
            response=PairingResponse,
            response_example=_PAIRING,
            parameters=(_DEVICE_PATH,),
            errors=(
                _UNAUTHORIZED,
                _DEVICE_NOT_FOUND,
                Problem(409, "device dev-main uses the sandbox transport, not whatsapp-web"),
                *extra_errors,
                _UNAVAILABLE,
            ),
        )
        for method, action, operation_id, summary, description, extra_errors in (
            (
                "POST",
                "scan",
                "startPairing",
                "Link a WhatsApp number by QR code",
                "Starts pairing a WhatsApp Web device and answers with its first QR code "
                "(within 10 s) for the phone to scan in WhatsApp, Linked devices. WhatsApp "
                "replaces the code every 20 seconds or so until it is scanned or pairing "
                "expires; a device whose pairing expired can start again.",
                (
                    Problem(
                        409,
                        "device dev-main is paired already; POST /device/disconnect/"
                        "dev-main unlinks it first",
                    ),
                ),
            ),
            (
                "GET",
                "scan",
                "showPairing",
                "The device's pairing: state and current QR code",
                "`qr` is the code's text and `qr_image` the same code as a PNG data URI; "
                "`state` becomes `connected` once the phone has scanned it.",
                (),
            ),
            (
                "POST",
                "pair-code",
                "pairByCode",
                "Link a WhatsApp number by pairing code",
                "Instead of a QR code, an 8-character code to type on the phone (WhatsApp, "
                "Linked devices, Link with phone number). The body may name the `phone` to "
                "link; by default the device's own number.",
                (
                    Problem(
                        409,
                        "device dev-main is paired already; POST /device/disconnect/"
                        "dev-main unlinks it first",
                    ),
                    Problem(422, "phone is not a valid phone number: '0811'"),
                    Problem(
                        504,
                        "no pairing code for device dev-main within 30 s; "
                        "GET /device/scan/dev-main shows it when it comes",
                    ),
                ),
            ),
            (
                "POST",
                "disconnect",
                "disconnectDevice",
                "Unlink the WhatsApp number",
                "Logs the device out of WhatsApp and forgets its session; pair it again to send.",
                (),
            ),
        )
    ),
    Operation(
        method="POST",
        path="/check-numbers",
        operation_id="checkNumbers",
        tag="Pairing",
        summary="Which numbers are on WhatsApp",
        description="Asks WhatsApp, through a connected `whatsapp-web` device, whether each "
        'number has a WhatsApp account (Alat WA\'s "Filter WhatsApp Number"). The worker '
        "that holds the device asks and answers within seconds; the answers are also what "
        'a device with `{"check_numbers": true}` goes by before its first message to a '
        "number.",
        request=CheckNumbersRequest,
        request_example={"device": DEVICE, "phones": ["08111111111", "+62 811-1111-112"]},
        response=CheckNumbersResponse,
        response_example={
            "status": "ok",
            "device": DEVICE,
            "data": [
                {"phone": "628111111111", "on_whatsapp": True},
                {"phone": "628111111112", "on_whatsapp": False},
            ],
        },
        errors=(
            _UNAUTHORIZED,
            *_BODY,
            Problem(422, "device is required"),
            Problem(422, "phones must be an array of phone numbers"),
            Problem(422, "phones must hold at least one phone number"),
            Problem(422, "phones holds 51 numbers; at most 50 at a time"),
            Problem(422, "phones[1] is not a valid phone number: '0811'"),
            _DEVICE_NOT_FOUND,
            Problem(409, "device dev-main uses the sandbox transport, not whatsapp-web"),
            Problem(
                409,
                "device dev-main is logged_out: numbers can be checked only while it is connected",
            ),
            Problem(504, "device dev-main did not answer within 20 s; try again"),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/webhooks/cloud/{device}",
        operation_id="cloudWebhookVerification",
        tag="Cloud API",
        summary="Meta's check of a cloud device's webhook URL",
        description="Meta calls this when the URL is registered in its console; it needs no "
        "key. With `hub.mode=subscribe` and the device's `verify_token`, the answer is "
        "`hub.challenge` as plain text.",
        response=None,
        response_example="1158201444",
        response_media_type="text/plain",
        parameters=(
            _CLOUD_DEVICE_PATH,
            Parameter(
                name="hub.mode",
                location="query",
                description="Always `subscribe`.",
                schema={"type": "string"},
                example="subscribe",
            ),
            Parameter(
                name="hub.verify_token",
                location="query",
                description="The `verify_token` of the device's config.",
                schema={"type": "string"},
                example="my-verify-token",
            ),
            Parameter(
                name="hub.challenge",
                location="query",
                description="What the answer must be.",
                schema={"type": "string"},
                example="1158201444",
            ),
        ),
        errors=(
            _NO_CLOUD_DEVICE,
            Problem(403, "hub.verify_token does not match the device's verify_token"),
            Problem(400, "hub.challenge must be what Meta sent: 1 to 256 characters"),
            _UNAVAILABLE,
        ),
        authenticated=False,
    ),
    Operation(
        method="POST",
        path="/webhooks/cloud/{device}",
        operation_id="cloudWebhook",
        tag="Cloud API",
        summary="Meta's notifications for a cloud device",
        description="Meta posts statuses of sent messages, button replies and incoming "
        "messages here, signed with the app's secret; it needs no key. A body whose "
        "`X-Hub-Signature-256` is not its HMAC-SHA256 with the device's `app_secret` is "
        "refused and changes nothing. A signed one is recorded, applied once (a redelivery "
        "is recognised), and answered 200.",
        response=WebhookAccepted,
        response_example={"status": "ok"},
        parameters=(
            _CLOUD_DEVICE_PATH,
            Parameter(
                name="X-Hub-Signature-256",
                location="header",
                description="`sha256=` and the hex HMAC-SHA256 of the raw body, keyed with "
                "the app secret.",
                schema={"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                example="sha256=" + "3c5a9e0f" * 8,
                required=True,
            ),
        ),
        errors=(
            _NO_CLOUD_DEVICE,
            Problem(
                403,
                "X-Hub-Signature-256 is missing or is not the body's signature with app_secret",
            ),
            Problem(413, "Request body is larger than 3145728 bytes"),
            _UNAVAILABLE,
        ),
        authenticated=False,
    ),
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
)

_STATUS_DESCRIPTIONS = {
    400: "The body cannot be read.",
    401: "The key is missing or wrong.",
    403: "The signature or token is wrong.",
    404: "Not found, or not yours.",
    409: "Conflicts with what is already stored.",
    413: "The body is too large.",
    415: "The body's content type is not one Kurir reads.",
    422: "A field breaks a rule; the message names it.",
    429: "Too many requests; retry after the seconds in Retry-After.",
    503: "The database is unavailable; retry after the seconds in Retry-After.",
    504: "The worker holding the device did not answer in time; look again later.",
}
_STATUS_HEADERS = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": "1"},
    503: {"Retry-After": "1"},
}

_DESCRIPTION = """\
A self-hosted WhatsApp gateway whose `POST /send/button` is Alat WA's: code written \
for that API works unchanged against Kurir.

Every request but `/healthz` and the documentation carries an API key in the \
`Authorization` header, bare or as `Bearer <key>`. Bodies may be JSON or forms as \
PHP sends them (urlencoded or multipart, arrays as `name[]=A&name[]=B`).

Every failure has one shape, `{"status":"error","message":"…"}`, with the message \
naming the field at fault; nothing a client sends causes a 500, and a refused request \
stores nothing."""


def build_document() -> dict[str, Any]:
    """The whole document, as a JSON-ready mapping."""
    requests: set[type[msgspec.Struct]] = {*REQUEST_TYPES, *WEBHOOK_REQUEST_TYPES}
    requests.update(op.request for op in OPERATIONS if op.request is not None)
    structs: set[type[msgspec.Struct]] = {*requests, ErrorBody}
    structs.update(op.response for op in OPERATIONS if op.response is not None)
    ordered = sorted(structs, key=lambda struct: struct.__name__)
    _, schemas = msgspec.json.schema_components(ordered, ref_template=_REF)
    # A field with a default is optional to send, but Kurir always answers with
    # it, except in a struct that leaves out what it does not have.
    always_whole = {
        struct.__name__
        for struct in ordered
        if struct not in requests and not struct.__struct_config__.omit_defaults
    }
    for name, schema in schemas.items():
        if name in always_whole:
            schema["required"] = list(schema["properties"])
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, schemas
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kurir", "version": version("kurir"), "description": _DESCRIPTION},
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                _SECURITY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Your API key, bare (Alat WA's style) or as `Bearer <key>`. "
                    "`kurir keys create` makes one; the first start prints one.",
                }
            },
        },
    }


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "description": operation.description,
        "security": [{_SECURITY_SCHEME: []}] if operation.authenticated else [],
    }
    if operation.parameters:
        document["parameters"] = [_parameter(parameter) for parameter in operation.parameters]
    if operation.request is not None:
        reference = {"$ref": _REF.format(name=operation.request.__name__)}
        example = operation.request_example or _required_example(
            schemas[operation.request.__name__]
        )
        document["requestBody"] = {
            "required": True,
            "description": "JSON, or the same fields as a form.",
            "content": {
                "application/json": {"schema": reference, "example": example},
                **{media_type: {"schema": reference} for media_type in _FORMS},
            },
        }
    if operation.response is not None:
        schema = {"$ref": _REF.format(name=operation.response.__name__)}
    else:
        json = operation.response_media_type == "application/json"
        schema = {"type": "object" if json else "string"}
    success = {"schema": schema, "example": operation.response_example}
    responses: dict[str, Any] = {
        "200": {"description": "Done.", "content": {operation.response_media_type: success}}
    }
    for status in sorted({problem.status for problem in operation.errors}):
        messages = [problem.message for problem in operation.errors if problem.status == status]
        responses[str(status)] = _error_response(status, messages)
    document["responses"] = responses
    return document


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.location,
        "required": parameter.required,
        "description": parameter.description,
        "schema": parameter.schema,
        "example": parameter.example,
    }


def _error_response(status: int, messages: list[str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _STATUS_DESCRIPTIONS[status],
        "content": {
            "application/json": {
                "schema": {"$ref": _REF.format(name=ErrorBody.__name__)},
                "examples": {
                    _example_name(message): {
                        "summary": message,
                        "value": {"status": "error", "message": message},
                    }
                    for message in messages
                },
            }
        },
    }
    headers = _STATUS_HEADERS.get(status)
    if headers is not None:
        response["headers"] = {
            name: {"required": True, "schema": {"type": "string"}, "example": value}
            for name, value in headers.items()
        }
    return response


def _example_name(message: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", message.lower()).strip("-")[:60]


def _required_example(schema: dict[str, Any]) -> dict[str, Any]:
    """A body of the first example of each required field."""
    properties: dict[str, Any] = schema["properties"]
    return {name: properties[name]["examples"][0] for name in schema["required"]}


# -- broadcasts and contacts (their operations live in a module of their own) -----------------

from kurir.api.openapi_broadcasts import BROADCAST_OPERATIONS  # noqa: E402  # needs the above

OPERATIONS = (*OPERATIONS, *BROADCAST_OPERATIONS)
