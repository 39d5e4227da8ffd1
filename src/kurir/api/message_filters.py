"""The filters of a message list, read from a query string.

``GET /messages`` and the dashboard's list read them here, and both list
with `kurir.store.message_list.filtered_messages`: one set of rules, one query.
"""

from datetime import datetime

from starlette.datastructures import QueryParams

from kurir.api.context import ApiContext
from kurir.clock import to_ms
from kurir.domain.content import MessageKind
from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.domain.status import MessageStatus
from kurir.store.message_list import MessageFilter

_STATUSES = ", ".join(MessageStatus)
_KINDS = ", ".join(MessageKind)
#: Query parameters that filter; the rest (paging) are read elsewhere.
FILTER_NAMES = ("device", "status", "recipient", "kind", "from", "until")


async def message_filter(api: ApiContext, account_id: int, query: QueryParams) -> MessageFilter:
    """The filter the query names; ValidationError (or a device's 404) for a wrong one."""
    device_id = None
    if raw_device := query.get("device", "").strip():
        device_id = (await api.device(account_id, raw_device)).id
    status = None
    if raw_status := query.get("status", "").strip():
        if raw_status not in MessageStatus.__members__.values():
            raise ValidationError(f"status must be one of {_STATUSES}")
        status = raw_status
    recipient = None
    if raw_recipient := query.get("recipient", "").strip():
        recipient = normalise_phone(raw_recipient, api.settings.default_region, field="recipient")
    kind = None
    if raw_kind := query.get("kind", "").strip():
        if raw_kind not in MessageKind.__members__.values():
            raise ValidationError(f"kind must be one of {_KINDS}")
        kind = MessageKind(raw_kind)
    return MessageFilter(
        device_id=device_id,
        status=status,
        recipient=recipient,
        kind=kind,
        created_from=_time(api, query, "from"),
        created_until=_time(api, query, "until"),
    )


def _time(api: ApiContext, query: QueryParams, name: str) -> int | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw) if len(raw) <= 40 else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError(
            f"{name} must be a date and time in ISO 8601, e.g. 2026-01-31T09:30:00+07:00"
        )
    if moment.tzinfo is None:  # as a schedule is: in the configured zone
        moment = moment.replace(tzinfo=api.zone)
    return to_ms(moment)
