"""The API document's operations of broadcasts, contacts and the message list.

`kurir.api.openapi` adds these to its own table.
"""

from typing import Any

from kurir.api.broadcast_requests import BroadcastCreateRequest, CustomerCreateRequest
from kurir.api.broadcast_types import (
    BroadcastActionResponse,
    BroadcastCreatedResponse,
    BroadcastListResponse,
    BroadcastResponse,
    CustomerCreatedResponse,
    CustomerDeletedResponse,
    CustomerListResponse,
    MessageListResponse,
)
from kurir.api.openapi_common import DEVICE, MESSAGE_ID
from kurir.api.operation import BAD_LIMIT as _BAD_LIMIT
from kurir.api.operation import BODY, Operation, Parameter, Problem, before_cursor, query_parameter
from kurir.api.operation import LIMIT as _LIMIT
from kurir.api.operation import UNAUTHORIZED as _UNAUTHORIZED
from kurir.api.operation import UNAVAILABLE as _UNAVAILABLE
from kurir.domain.content import MessageKind
from kurir.domain.status import MessageStatus

BROADCAST_ID = "9f2c4e1a7b3d5c60"

_NOT_FOUND = Problem(404, f"broadcast '{BROADCAST_ID}' not found")
_BAD_CURSOR = Problem(422, "before must be a cursor from a previous answer")
# A broadcast's body has its own size limit (KURIR_MAX_BROADCAST_BYTES).
_BODY = tuple(problem for problem in BODY if problem.status != 413)
_ID_PATH = Parameter(
    name="broadcast_id",
    location="path",
    description="The id `/broadcast/create` answered with.",
    schema={"type": "string", "pattern": "^[0-9a-f]{16}$"},
    example=BROADCAST_ID,
    required=True,
)
_BEFORE = before_cursor("1042")
_GROUP = query_parameter(
    "group", "Only this contact group's (empty: contacts in no group).", "pelanggan-vip"
)
_TIME = {
    "type": "string",
    "description": "Unix seconds, or ISO 8601 (in the server's zone without an offset)",
}
#: The filters of `GET /messages`: name, description, schema, example.
_MESSAGE_FILTERS: tuple[tuple[str, str, dict[str, Any], object], ...] = (
    ("device", "Only this device's messages.", {"type": "string"}, DEVICE),
    (
        "status",
        "Only messages in this status.",
        {"type": "string", "enum": [status.value for status in MessageStatus]},
        "failed",
    ),
    (
        "recipient",
        "Only messages to this number, in any notation.",
        {"type": "string"},
        "08111111111",
    ),
    (
        "kind",
        "Only messages of this kind.",
        {"type": "string", "enum": [kind.value for kind in MessageKind]},
        "button",
    ),
    ("since", "Only messages accepted at or after this time.", _TIME, "2026-05-04T09:00:00+07:00"),
    ("until", "Only messages accepted before this time.", _TIME, "2026-05-05T09:00:00+07:00"),
    ("broadcast", "Only this broadcast's messages.", {"type": "string"}, BROADCAST_ID),
)
_BROADCAST = {
    "broadcast_id": BROADCAST_ID,
    "title": "Promo Lebaran",
    "device": DEVICE,
    "type": "text",
    "state": "running",
    "date_execute": "2026-05-04T09:00:00.000+07:00",
    "active_start": "08:00:00",
    "active_end": "17:00:00",
    "interval_from": 5,
    "interval_to": 15,
    "total_receiver": 1000,
    "total_invalid": 0,
    "total_duplicate": 2,
    "total_opted_out": 1,
    "totals": {"scheduled": 620, "sending": 1, "delivered": 375, "read": 3, "failed": 1},
    "next_send_at": "2026-05-04T10:12:07.000+07:00",
    "created_at": "2026-05-04T08:55:00.000+07:00",
}


def _action(verb: str, done: str, description: str, *conflicts: Problem) -> Operation:
    return Operation(
        method="POST",
        path=f"/broadcast/{{broadcast_id}}/{verb}",
        operation_id=f"{verb}Broadcast",
        tag="Broadcasts",
        summary=f"{verb.capitalize()} a broadcast",
        description=description,
        response=BroadcastActionResponse,
        response_example={
            "status": "ok",
            "message": f"Broadcast {done}",
            "broadcast_id": BROADCAST_ID,
            "state": {"pause": "paused", "resume": "running", "cancel": "cancelled"}[verb],
        },
        parameters=(_ID_PATH,),
        errors=(_UNAUTHORIZED, _NOT_FOUND, *conflicts, _UNAVAILABLE),
    )


BROADCAST_OPERATIONS = (
    Operation(
        method="POST",
        path="/broadcast/create",
        operation_id="createBroadcast",
        tag="Broadcasts",
        summary="Create a broadcast (Alat WA's endpoint)",
        description="Many recipients, each message due at its own time: from `date_execute`, "
        "a random pause of `interval_from` to `interval_to` seconds apart, only inside the "
        "daily window, paced by the device on top. Spintax (`{Halo|Hai}`) picks words per "
        "message and `{name}`, `{opt1}`…`{opt7}` take the contact's fields. Faulty receivers "
        "are all listed in the 422's `invalid` (index, phone, reason), or skipped with "
        "`skip_invalid`; repeats and opted-out recipients are left out and counted. Bodies "
        "up to the server's broadcast limit (20 MB by default).",
        request=BroadcastCreateRequest,
        request_example={
            "device": "default",
            "title": "Promo Lebaran",
            "date_execute": "2026-05-04 09:00:00",
            "active_start": "08:00:00",
            "active_end": "17:00:00",
            "interval_from": 5,
            "interval_to": 15,
            "type": "text",
            "receiver": [
                {"phone": "08111111111", "message": "{Halo|Hai} kak, promo {hari ini|minggu ini}!"}
            ],
        },
        response=BroadcastCreatedResponse,
        response_example={
            "status": "ok",
            "message": "Broadcast created",
            "broadcast_id": BROADCAST_ID,
            "total_receiver": 1000,
            "total_invalid": 0,
            "total_duplicate": 2,
            "total_opted_out": 1,
        },
        parameters=(
            Parameter(
                name="Idempotency-Key",
                location="header",
                description="A retry with the same key and body gets the first answer and "
                "creates nothing twice.",
                schema={"type": "string", "minLength": 1, "maxLength": 255},
                example="promo-lebaran-2026",
            ),
        ),
        errors=(
            _UNAUTHORIZED,
            Problem(429, "Too many requests are waiting to be stored; retry shortly"),
            *_BODY,
            Problem(413, "Request body is larger than 20971520 bytes"),
            Problem(404, "device 'dev-other' not found"),
            Problem(422, "receiver is required (a list of {phone, message}), or group"),
            Problem(
                422,
                "1 receiver is invalid: receiver[3] ('0811'): phone is not a valid phone "
                "number: '0811'. Fix them, or send skip_invalid: true to leave them out",
            ),
            Problem(
                422,
                "1 receiver is invalid: receiver[0] ('08111111111'): message: unbalanced '{' "
                "(no '}' closes it) at position 1. Fix them, or send skip_invalid: true to "
                "leave them out",
            ),
            Problem(422, "media_base64 is not valid base64"),
            Problem(422, "active_start must be a time as 'H:i:s', got '8am'"),
            Problem(
                409,
                "Idempotency-Key was already used for a different request "
                f"(broadcast {BROADCAST_ID})",
            ),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/broadcast/list",
        operation_id="listBroadcasts",
        tag="Broadcasts",
        summary="Your broadcasts, newest first",
        description="Without totals and next send time: `GET /broadcast/{broadcast_id}` has them.",
        response=BroadcastListResponse,
        response_example={
            "status": "ok",
            "data": [{**_BROADCAST, "totals": None, "next_send_at": None}],
            "next_cursor": None,
        },
        parameters=(_LIMIT, _BEFORE),
        errors=(_UNAUTHORIZED, _BAD_LIMIT, _BAD_CURSOR, _UNAVAILABLE),
    ),
    Operation(
        method="GET",
        path="/broadcast/{broadcast_id}",
        operation_id="getBroadcast",
        tag="Broadcasts",
        summary="A broadcast: its state, its messages by status, when it next sends",
        description="`state` is scheduled (before `date_execute`), running, paused, "
        "cancelled or completed (nothing left to send).",
        response=BroadcastResponse,
        response_example={"status": "ok", "data": _BROADCAST},
        parameters=(_ID_PATH,),
        errors=(_UNAUTHORIZED, _NOT_FOUND, _UNAVAILABLE),
    ),
    _action(
        "pause",
        "paused",
        "Nothing more is sent until it is resumed; a message being sent finishes.",
        Problem(409, f"broadcast {BROADCAST_ID} is cancelled; it can no longer be paused"),
    ),
    _action(
        "resume",
        "resumed",
        "Sending goes on, planned afresh from now.",
        Problem(409, f"broadcast {BROADCAST_ID} is cancelled; it can no longer be resumed"),
    ),
    _action(
        "cancel",
        "cancelled",
        "Every message not yet being sent fails, with the reason `the broadcast was cancelled`.",
    ),
    Operation(
        method="GET",
        path="/messages",
        operation_id="listMessages",
        tag="Messages",
        summary="Your messages, newest first",
        description="Filters combine; each given must match. Each message is shown as "
        "`GET /message/{message_id}` shows it.",
        response=MessageListResponse,
        response_example={
            "status": "ok",
            "data": [
                {
                    "message_id": MESSAGE_ID,
                    "device": DEVICE,
                    "from": "628122222222",
                    "to": "628111111111",
                    "type": "text",
                    "status": "delivered",
                    "content": {"message": "Hai kak, promo hari ini!"},
                    "scheduled_for": "2026-05-04T09:00:00.000+07:00",
                    "attempts": 1,
                    "last_error": None,
                    "reply": None,
                    "timestamps": {"created": "2026-05-04T08:55:00.000+07:00"},
                    "broadcast": BROADCAST_ID,
                }
            ],
            "next_cursor": None,
        },
        parameters=(
            *(
                query_parameter(name, description, example, schema)
                for name, description, schema, example in _MESSAGE_FILTERS
            ),
            _LIMIT,
            _BEFORE,
        ),
        errors=(
            _UNAUTHORIZED,
            _NOT_FOUND,
            _BAD_LIMIT,
            _BAD_CURSOR,
            Problem(
                422,
                "status must be one of scheduled, queued, sending, sent, delivered, read, "
                "failed, cancelled, got 'gone'",
            ),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="POST",
        path="/customer/create",
        operation_id="createCustomers",
        tag="Contacts",
        summary="Add customers to a contact group (Alat WA's endpoint)",
        description="`generate_prefix_number: yes` reads national numbers in the server's "
        "region; `no` wants them with their country code. With `filter_duplicate: yes` (the "
        "default) a number already in the group is left as it is; with `no` it is updated.",
        request=CustomerCreateRequest,
        request_example={
            "customers": [{"phone": "08111111111", "name": "Budi", "opt1": "VIP"}],
            "group": "pelanggan-vip",
            "generate_prefix_number": "yes",
            "filter_duplicate": "yes",
        },
        response=CustomerCreatedResponse,
        response_example={
            "status": "ok",
            "message": "Customer successfully created",
            "total_customer": "1",
            "group": "pelanggan-vip",
            "total_updated": 0,
            "total_duplicate": 0,
            "total_invalid": 0,
        },
        errors=(
            _UNAUTHORIZED,
            *_BODY,
            Problem(413, "Request body is larger than 65536 bytes"),
            Problem(422, "customers is required"),
            Problem(
                422,
                "1 customers is invalid: customers[0] ('0811'): phone is not a valid phone "
                "number: '0811'. Fix them, or send skip_invalid: true to leave them out",
            ),
            _UNAVAILABLE,
        ),
    ),
    Operation(
        method="GET",
        path="/customer/list",
        operation_id="listCustomers",
        tag="Contacts",
        summary="Your contacts, newest first",
        description="With whether each opted out of broadcasts.",
        response=CustomerListResponse,
        response_example={
            "status": "ok",
            "data": [
                {
                    "phone": "628111111111",
                    "name": "Budi",
                    **{f"opt{n}": "VIP" if n == 1 else "" for n in range(1, 8)},
                    "group": "pelanggan-vip",
                    "opted_out": False,
                    "created_at": "2026-05-01T08:00:00.000+07:00",
                }
            ],
            "next_cursor": None,
        },
        parameters=(_GROUP, _LIMIT, _BEFORE),
        errors=(_UNAUTHORIZED, _BAD_LIMIT, _BAD_CURSOR, _UNAVAILABLE),
    ),
    Operation(
        method="DELETE",
        path="/customer/{phone}",
        operation_id="deleteCustomer",
        tag="Contacts",
        summary="Remove a contact",
        description="From every group, or from `?group=` only. Its opt-out, if any, stays.",
        response=CustomerDeletedResponse,
        response_example={
            "status": "ok",
            "message": "Customer deleted",
            "phone": "628111111111",
            "deleted": 1,
        },
        parameters=(
            Parameter(
                name="phone",
                location="path",
                description="The number, in any usual notation.",
                schema={"type": "string", "minLength": 1},
                example="628111111111",
                required=True,
            ),
            _GROUP,
        ),
        errors=(
            _UNAUTHORIZED,
            Problem(404, "customer 628111111111 not found"),
            Problem(422, "phone is not a valid phone number: '12'"),
            _UNAVAILABLE,
        ),
    ),
)
