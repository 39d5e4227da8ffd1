"""``GET /messages``: the account's messages, newest first, filtered and paged by cursor."""

from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kurir.api.body import query_cursor, query_limit
from kurir.api.broadcast_types import MessageListResponse
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.api.views import message_data
from kurir.domain.content import MessageKind
from kurir.domain.endpoints import parse_since
from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.domain.status import MessageStatus
from kurir.store import broadcasts as store_broadcasts
from kurir.store.message_list import BroadcastRange, MessageFilter, list_messages

#: The query parameters ``GET /messages`` reads; any other is refused, so a
#: misspelt filter is not silently a list of everything.
FILTERS = ("device", "status", "recipient", "kind", "since", "until", "broadcast")
_PAGING = ("limit", "before")


_Choice = TypeVar("_Choice", MessageStatus, MessageKind)


def _choice(name: str, raw: str, choices: type[_Choice]) -> _Choice:
    try:
        return choices(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(choice.value for choice in choices)
        raise ValidationError(f"{name} must be one of {allowed}, got {raw[:40]!r}") from None


class MessageListRoutes:
    """The message list of one API process."""

    def __init__(self, api: ApiContext) -> None:
        self._api = api

    def routes(self) -> list[BaseRoute]:
        return [Route("/messages", self.list, methods=["GET"])]

    async def list(self, request: Request) -> Response:
        api = self._api
        account_id = await api.account_id(request)
        params = request.query_params
        unknown = sorted(set(params) - set(FILTERS) - set(_PAGING))
        if unknown:
            raise ValidationError(
                f"unknown query parameter {unknown[0][:40]!r}; the filters are "
                + ", ".join(FILTERS)
            )
        repeated = [name for name in FILTERS if len(params.getlist(name)) > 1]
        if repeated:  # one value each: a list of several would be a silent guess
            raise ValidationError(f"{repeated[0]} is given more than once")
        limit = query_limit(request)
        before = query_cursor(request)
        where = await message_filter(api, account_id, {k: v for k, v in params.items() if v})
        page = await api.store.read(
            list_messages, account_id=account_id, limit=limit, before=before, where=where
        )
        return ok(
            MessageListResponse(
                data=[message_data(view, api.zone) for _, view in page],
                next_cursor=str(page[-1][0]) if len(page) == limit else None,
            )
        )


async def message_filter(api: ApiContext, account_id: int, given: dict[str, str]) -> MessageFilter:
    """The filter the non-empty query parameters ask for; another account's things: 404."""
    device_id = None
    if "device" in given:
        device_id = (await api.device(account_id, given["device"])).id
    broadcast = None
    if "broadcast" in given:
        raw = given["broadcast"]
        found = await api.store.read(
            store_broadcasts.get_broadcast, raw[:64], account_id=account_id
        )
        if found is None:
            raise ApiError(404, f"broadcast {raw[:40]!r} not found")
        assert found.first_message_pk is not None  # set when it was stored
        assert found.last_message_pk is not None
        broadcast = BroadcastRange(
            broadcast_id=found.id, first=found.first_message_pk, last=found.last_message_pk
        )
    recipient = None
    if "recipient" in given:
        recipient = normalise_phone(
            given["recipient"], api.settings.default_region, field="recipient"
        )

    def time(name: str) -> int | None:
        raw = given.get(name)
        return parse_since(raw, timezone=api.zone, field=name) if raw else None

    created_from, created_before = time("since"), time("until")
    if created_from is not None and created_before is not None and (created_before <= created_from):
        raise ValidationError("until must be after since")
    status = given.get("status")
    kind = given.get("kind")
    return MessageFilter(
        device_id=device_id,
        status=_choice("status", status, MessageStatus) if status else None,
        recipient=recipient,
        kind=_choice("kind", kind, MessageKind) if kind else None,
        created_from=created_from,
        created_before=created_before,
        broadcast=broadcast,
    )
