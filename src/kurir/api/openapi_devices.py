"""The API document's operations of devices: listing, the sandbox, pairing and the Cloud API."""

from kurir.api.openapi_common import BUTTON_CONTENT, DEVICE, DEVICE_NOT_FOUND, MESSAGE_ID
from kurir.api.operation import BAD_LIMIT as _BAD_LIMIT
from kurir.api.operation import BODY as _BODY
from kurir.api.operation import LIMIT as _LIMIT
from kurir.api.operation import UNAUTHORIZED as _UNAUTHORIZED
from kurir.api.operation import UNAVAILABLE as _UNAVAILABLE
from kurir.api.operation import Operation, Parameter, Problem, query_parameter
from kurir.api.requests import (
    CheckNumbersRequest,
    SandboxReplyRequest,
)
from kurir.api.types import (
    CheckNumbersResponse,
    DeviceListResponse,
    PairingResponse,
    SandboxDeliveriesResponse,
    SandboxReplyResponse,
    WebhookAccepted,
)

_DEVICE_PATH = Parameter(
    name="device",
    location="path",
    description="The id of one of your account's devices.",
    schema={"type": "string", "minLength": 1},
    example=DEVICE,
    required=True,
)
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

DEVICE_OPERATIONS: tuple[Operation, ...] = (
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
            DEVICE_NOT_FOUND,
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
                    "content": BUTTON_CONTENT,
                    "delivered_at": "2026-05-04T09:30:00.215+07:00",
                    "sends": 1,
                }
            ],
        },
        parameters=(_DEVICE_PATH, _LIMIT),
        errors=(_UNAUTHORIZED, DEVICE_NOT_FOUND, _NOT_SANDBOX, _BAD_LIMIT, _UNAVAILABLE),
    ),
)

PAIRING_OPERATIONS: tuple[Operation, ...] = (
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
                DEVICE_NOT_FOUND,
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
            DEVICE_NOT_FOUND,
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
            query_parameter("hub.mode", "Always `subscribe`.", "subscribe"),
            query_parameter(
                "hub.verify_token", "The `verify_token` of the device's config.", "my-verify-token"
            ),
            query_parameter("hub.challenge", "What the answer must be.", "1158201444"),
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
)
