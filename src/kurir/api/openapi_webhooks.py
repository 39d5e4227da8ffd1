"""The webhook endpoints' operations in the API document (see openapi.py)."""

from typing import Any

from kurir.api.operation import (
    BODY,
    UNAUTHORIZED,
    UNAVAILABLE,
    Operation,
    Parameter,
    Problem,
    before_cursor,
)
from kurir.api.webhook_types import (
    DELIVERY_ID,
    WEBHOOK_ID,
    CreateWebhookRequest,
    DeliveryListResponse,
    DeliveryResponse,
    RedeliverRequest,
    RedeliverResponse,
    UpdateWebhookRequest,
    WebhookDeletedResponse,
    WebhookListResponse,
    WebhookResponse,
    WebhookSecretResponse,
)
from kurir.domain.endpoints import MAX_ENDPOINTS
from kurir.domain.events import DeliveryStatus

_TAG = "Webhooks"
_AT = "2026-05-04T09:30:00.000+07:00"
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105  # an example, no one's secret

_WEBHOOK_PATH = Parameter(
    name="webhook_id",
    location="path",
    description="The id the endpoint was created with.",
    schema={"type": "string", "minLength": 1},
    example=WEBHOOK_ID,
    required=True,
)
_DELIVERY_PATH = Parameter(
    name="delivery_id",
    location="path",
    description="A delivery's id, from the log (its `webhook-id`).",
    schema={"type": "string", "minLength": 1},
    example=DELIVERY_ID,
    required=True,
)
_NOT_FOUND = Problem(404, f"webhook '{WEBHOOK_ID}' not found")
_DELIVERY_NOT_FOUND = Problem(404, f"delivery '{DELIVERY_ID}' not found")
_FIELDS = (
    Problem(422, "url: scheme must be http or https, not 'ftp'"),
    Problem(422, "url: 10.0.0.7 is a private address, which Kurir does not connect to"),
    Problem(422, "events[1]: 'message.sent' is not an event; use message.status, …"),
    Problem(422, "devices[0]: device 'dev-other' not found"),
)

_WEBHOOK: dict[str, Any] = {
    "id": WEBHOOK_ID,
    "url": "https://example.com/kurir/webhooks",
    "events": ["message.status", "message.reply"],
    "devices": None,
    "enabled": True,
    "disabled_reason": None,
    "failing_since": None,
    "secret_hint": _SECRET[:10] + "…",
    "previous_secret_expires_at": None,
    "pending_deliveries": 0,
    "dead_deliveries": 0,
    "created_at": _AT,
    "updated_at": _AT,
}
_DELIVERY: dict[str, Any] = {
    "id": DELIVERY_ID,
    "event": "message.status",
    "status": "delivered",
    "event_at": _AT,
    "next_attempt_at": None,
    "deadline_at": "2026-05-05T09:30:00.000+07:00",
    "delivered_at": "2026-05-04T09:30:06.210+07:00",
    "payload": {
        "event": "message.status",
        "device": "dev-main",
        "data": {
            "message_id": "3EB0018F6A2B7C4D5E6F",
            "status_code": 3,
            "status": "Delivered",
            "created": 1777861800,
        },
    },
    "attempts": [
        {
            "attempted_at": "2026-05-04T09:30:00.120+07:00",
            "status_code": 503,
            "latency_ms": 84,
            "error": None,
            "response": "Service Unavailable",
        },
        {
            "attempted_at": "2026-05-04T09:30:06.150+07:00",
            "status_code": 200,
            "latency_ms": 60,
            "error": None,
            "response": "",
        },
    ],
}

WEBHOOK_OPERATIONS = (
    Operation(
        method="POST",
        path="/webhooks",
        operation_id="createWebhook",
        tag=_TAG,
        summary="Register an endpoint to hear of events",
        description="Kurir posts each event it wants to `url`, signed as Standard Webhooks "
        "do (`webhook-id`, `webhook-timestamp`, `webhook-signature`), retrying until a "
        "deadline. The answer holds the signing `secret`; it is not shown again. At most "
        f"{MAX_ENDPOINTS} endpoints per account.",
        request=CreateWebhookRequest,
        response=WebhookSecretResponse,
        response_example={"status": "ok", "data": {**_WEBHOOK, "secret": _SECRET}},
        errors=(
            UNAUTHORIZED,
            *BODY,
            Problem(422, "url is required"),
            *_FIELDS,
            Problem(
                409,
                f"an account may have at most {MAX_ENDPOINTS} webhook endpoints; "
                "delete one to add another",
            ),
            UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/webhooks",
        operation_id="listWebhooks",
        tag=_TAG,
        summary="Your account's endpoints",
        description="Without their secrets.",
        response=WebhookListResponse,
        response_example={"status": "ok", "data": [_WEBHOOK]},
        errors=(UNAUTHORIZED, UNAVAILABLE),
    ),
    Operation(
        method="GET",
        path="/webhooks/{webhook_id}",
        operation_id="getWebhook",
        tag=_TAG,
        summary="An endpoint",
        description="Whether it is enabled (or why Kurir disabled it), and how many of its "
        "deliveries wait or are dead.",
        response=WebhookResponse,
        response_example={"status": "ok", "data": _WEBHOOK},
        parameters=(_WEBHOOK_PATH,),
        errors=(UNAUTHORIZED, _NOT_FOUND, UNAVAILABLE),
    ),
    Operation(
        method="PATCH",
        path="/webhooks/{webhook_id}",
        operation_id="updateWebhook",
        tag=_TAG,
        summary="Change, pause or resume an endpoint",
        description="Only the fields given change. `enabled: false` pauses it; "
        "`enabled: true` resumes it, or enables one Kurir disabled.",
        request=UpdateWebhookRequest,
        request_example={"enabled": False},
        response=WebhookResponse,
        response_example={"status": "ok", "data": {**_WEBHOOK, "enabled": False}},
        parameters=(_WEBHOOK_PATH,),
        errors=(
            UNAUTHORIZED,
            _NOT_FOUND,
            *BODY,
            *_FIELDS,
            Problem(422, "enabled must be true or false"),
            Problem(422, "give at least one of url, events, devices and enabled"),
            UNAVAILABLE,
        ),
    ),
    Operation(
        method="DELETE",
        path="/webhooks/{webhook_id}",
        operation_id="deleteWebhook",
        tag=_TAG,
        summary="Delete an endpoint and its delivery log",
        description="Deliveries not yet made to it are not made.",
        response=WebhookDeletedResponse,
        response_example={"status": "ok", "id": WEBHOOK_ID, "message": "Deleted"},
        parameters=(_WEBHOOK_PATH,),
        errors=(UNAUTHORIZED, _NOT_FOUND, UNAVAILABLE),
    ),
    Operation(
        method="POST",
        path="/webhooks/{webhook_id}/rotate-secret",
        operation_id="rotateWebhookSecret",
        tag=_TAG,
        summary="Give an endpoint a new signing secret",
        description="The answer holds the new `secret`, shown this once. For 24 hours "
        "every delivery is signed with the old secret too, so your receiver can switch "
        "without refusing any; a secret older than the one replaced stops signing at once.",
        response=WebhookSecretResponse,
        response_example={
            "status": "ok",
            "data": {
                **_WEBHOOK,
                "previous_secret_expires_at": "2026-05-05T09:30:00.000+07:00",
                "secret": _SECRET,
            },
        },
        parameters=(_WEBHOOK_PATH,),
        errors=(UNAUTHORIZED, _NOT_FOUND, UNAVAILABLE),
    ),
    Operation(
        method="GET",
        path="/webhooks/{webhook_id}/deliveries",
        operation_id="listWebhookDeliveries",
        tag=_TAG,
        summary="An endpoint's delivery log, newest event first",
        description="Each delivery with the event's body and every attempt at it: when, the "
        "answer's status and start, how long it took, what went wrong. Page through older "
        "ones by passing the answer's `next_cursor` as `before`.",
        response=DeliveryListResponse,
        response_example={"status": "ok", "data": [_DELIVERY], "next_cursor": None},
        parameters=(
            _WEBHOOK_PATH,
            Parameter(
                name="limit",
                location="query",
                description="How many to list.",
                schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                example=20,
            ),
            before_cursor("1777861800000-1042"),
            Parameter(
                name="status",
                location="query",
                description="Only deliveries in this state.",
                schema={"type": "string", "enum": list(DeliveryStatus)},
                example="dead",
            ),
        ),
        errors=(
            UNAUTHORIZED,
            _NOT_FOUND,
            Problem(422, "limit must be a whole number from 1 to 100"),
            Problem(422, "before must be a cursor from a previous answer"),
            Problem(422, "status must be one of pending, delivering, delivered, dead"),
            UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/webhooks/{webhook_id}/deliveries/{delivery_id}",
        operation_id="getWebhookDelivery",
        tag=_TAG,
        summary="One delivery and every attempt at it",
        description="As in the log.",
        response=DeliveryResponse,
        response_example={"status": "ok", "data": _DELIVERY},
        parameters=(_WEBHOOK_PATH, _DELIVERY_PATH),
        errors=(UNAUTHORIZED, _DELIVERY_NOT_FOUND, UNAVAILABLE),
    ),
    Operation(
        method="POST",
        path="/webhooks/{webhook_id}/redeliver",
        operation_id="redeliverWebhook",
        tag=_TAG,
        summary="Send deliveries again",
        description="One delivery by its id, whatever became of it, or every dead one since "
        "a time. Each is due at once with the same `webhook-id`, and is retried for a whole "
        "deadline from now; its attempts so far stay in the log.",
        request=RedeliverRequest,
        request_example={"since": "2026-05-04T09:30:00+07:00"},
        response=RedeliverResponse,
        response_example={"status": "ok", "data": {"redelivered": 3}},
        parameters=(_WEBHOOK_PATH,),
        errors=(
            UNAUTHORIZED,
            _NOT_FOUND,
            _DELIVERY_NOT_FOUND,
            *BODY,
            Problem(422, "delivery or since is required"),
            Problem(422, "give delivery or since, not both"),
            Problem(422, "since must be Unix seconds or an ISO 8601 time"),
            Problem(409, f"webhook {WEBHOOK_ID} is disabled; enable it before redelivering"),
            Problem(
                409,
                f"delivery {DELIVERY_ID} is being delivered now; redeliver it once that is done",
            ),
            UNAVAILABLE,
        ),
    ),
)
