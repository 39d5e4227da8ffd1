"""Messages: the filtered list, newest first by cursor, and one message's page.

The list is `list_messages` with the filters the API reads
(`kurir.api.messages.message_filter`); a message's page is ``GET /message/{id}``
with the webhook deliveries its events caused; cancelling is
``DELETE /message/{id}``.
"""

from typing import Any

import msgspec
from starlette.responses import Response

from kurir.api.body import query_cursor
from kurir.api.errors import ApiError
from kurir.api.messages import FILTERS, message_filter
from kurir.api.views import iso_time, message_data
from kurir.dashboard.core import Dashboard, SignedIn
from kurir.domain.content import MessageKind
from kurir.domain.errors import ValidationError
from kurir.domain.status import MessageStatus
from kurir.store import accounts
from kurir.store.delivery_log import deliveries_of_message
from kurir.store.message_list import list_messages

PAGE_SIZE = 50
_TO_BUILTINS = msgspec.to_builtins


async def list_page(dash: Dashboard, who: SignedIn) -> Response:
    query = who.request.query_params
    devices = await dash.api.store.read(accounts.list_devices, account_id=who.account_id)
    values = {name: query.get(name, "") for name in FILTERS}
    choices: dict[str, Any] = {
        "devices": [device.public_id for device in devices],
        "statuses": list(MessageStatus),
        "kinds": list(MessageKind),
    }
    try:
        where = await message_filter(
            dash.api, who.account_id, {k: v for k, v in query.items() if k in FILTERS and v}
        )
        before = query_cursor(who.request)
    except (ValidationError, ApiError) as error:
        return dash.page(
            who,
            "messages.html",
            400,
            rows=[],
            next_query=None,
            error=error.message,
            filters=values,
            **choices,
        )
    found = await dash.api.store.read(
        list_messages, account_id=who.account_id, where=where, limit=PAGE_SIZE, before=before
    )
    rows = [_TO_BUILTINS(message_data(view, dash.api.zone)) for _, view in found]
    next_query = None
    if len(found) == PAGE_SIZE:
        kept = {name: value for name, value in values.items() if value}
        next_query = {**kept, "before": str(found[-1][0])}
    return dash.page(
        who,
        "messages.html",
        rows=rows,
        next_query=next_query,
        error=None,
        filters=values,
        **choices,
    )


async def message_page(dash: Dashboard, who: SignedIn) -> Response:
    message_id = who.request.path_params["message_id"]
    answer = await dash.call(who, "GET", f"/message/{message_id}")
    if not answer.ok:
        return dash.page(who, "refused.html", answer.status, reason=answer.error)
    caused = await dash.api.store.read(deliveries_of_message, message_id, account_id=who.account_id)
    deliveries = [
        {
            "endpoint": endpoint,
            "public_id": delivery.public_id,
            "event": delivery.event_type,
            "status": delivery.status,
            "at": iso_time(delivery.event_at, dash.api.zone),
            "attempts": [
                {
                    "at": iso_time(attempt.attempted_at, dash.api.zone),
                    "code": attempt.status_code,
                    "latency_ms": attempt.latency_ms,
                    "error": attempt.error,
                }
                for attempt in delivery.attempts
            ],
        }
        for endpoint, delivery in caused
    ]
    message = answer.body["data"]
    waiting = message["status"] in (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
    return dash.page(
        who, "message.html", message=message, deliveries=deliveries, cancellable=waiting
    )


async def cancel(dash: Dashboard, who: SignedIn) -> Response:
    await dash.form(who)
    message_id = who.request.path_params["message_id"]
    answer = await dash.call(who, "DELETE", f"/message/{message_id}")
    return dash.outcome(
        who, answer, f"message {message_id} cancelled", f"/dashboard/messages/{message_id}"
    )


PAGES = [
    ("/dashboard/messages", "GET", list_page),
    ("/dashboard/messages/{message_id}", "GET", message_page),
    ("/dashboard/messages/{message_id}/cancel", "POST", cancel),
]
