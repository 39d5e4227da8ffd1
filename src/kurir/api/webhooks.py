"""The webhook endpoints' HTTP handlers: register, change, pause, rotate, read the log, redeliver.

Every route is the calling account's: another account's endpoint or delivery
is answered exactly as one that does not exist. The signing secret is in the
answers to creation and rotation only; other answers carry a hint of it.
"""

from collections.abc import Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from kurir.api.body import query_limit
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.api.requests import convert_fields
from kurir.api.webhook_types import (
    AttemptData,
    CreateWebhookRequest,
    DeliveryData,
    DeliveryListResponse,
    DeliveryResponse,
    RedeliveredData,
    RedeliverRequest,
    RedeliverResponse,
    UpdateWebhookRequest,
    WebhookData,
    WebhookDeletedResponse,
    WebhookListResponse,
    WebhookResponse,
    WebhookSecretData,
    WebhookSecretResponse,
)
from kurir.clock import now_ms
from kurir.domain.endpoints import (
    MAX_URL_LENGTH,
    check_devices,
    check_events,
    is_delivery_id,
    is_endpoint_id,
    parse_since,
)
from kurir.domain.errors import ValidationError
from kurir.domain.events import DeliveryStatus
from kurir.egress import InvalidURL, check_url
from kurir.store import deliveries, delivery_log, webhook_endpoints
from kurir.store.delivery_log import LogCursor
from kurir.store.webhook_endpoints import EndpointLimitReached
from kurir.store.webhook_records import DeliveryView, EndpointChanges, EndpointView

#: Deliveries per page of a log: each carries its attempts, so fewer than other lists.
_LOG_PAGE, _MAX_LOG_PAGE = 20, 100
_PAYLOAD = msgspec.json.Decoder(dict[str, object])
_STATUSES = ", ".join(DeliveryStatus)


class WebhookRoutes:
    """Handlers bound to one process's API context."""

    def __init__(self, api: ApiContext) -> None:
        self._api = api

    # -- endpoints -------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        body = convert_fields(await self._api.fields(request), CreateWebhookRequest)
        url = self._url(body.url)
        events = check_events(body.events)
        devices = check_devices(body.devices)
        try:
            created = await self._api.store.write(
                webhook_endpoints.create_endpoint,
                account_id=account_id,
                url=url,
                events=events,
                devices=devices,
                now=now_ms(),
            )
        except EndpointLimitReached as error:
            raise ApiError(409, f"{error}; delete one to add another") from None
        return ok(WebhookSecretResponse(data=self._with_secret(created.endpoint, created.secret)))

    async def list_endpoints(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        found = await self._api.store.read(
            webhook_endpoints.list_endpoints, account_id=account_id, now=now_ms()
        )
        return ok(WebhookListResponse(data=[self._data(endpoint) for endpoint in found]))

    async def get(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        found = await self._api.store.read(
            webhook_endpoints.get_endpoint, public_id, account_id=account_id, now=now_ms()
        )
        if found is None:
            raise _webhook_not_found(public_id)
        return ok(WebhookResponse(data=self._data(found)))

    async def update(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        body = convert_fields(await self._api.fields(request), UpdateWebhookRequest)
        changes = EndpointChanges(
            url=msgspec.UNSET if body.url is msgspec.UNSET else self._url(body.url),
            events=msgspec.UNSET if body.events is msgspec.UNSET else check_events(body.events),
            devices=(
                msgspec.UNSET if body.devices is msgspec.UNSET else check_devices(body.devices)
            ),
            enabled=body.enabled,
        )
        if changes == EndpointChanges():
            raise ValidationError("give at least one of url, events, devices and enabled")
        updated = await self._api.store.write(
            webhook_endpoints.update_endpoint,
            public_id,
            account_id=account_id,
            changes=changes,
            now=now_ms(),
        )
        if updated is None:
            raise _webhook_not_found(public_id)
        return ok(WebhookResponse(data=self._data(updated)))

    async def delete(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        if not await self._api.store.write(
            webhook_endpoints.delete_endpoint, public_id, account_id=account_id
        ):
            raise _webhook_not_found(public_id)
        return ok(WebhookDeletedResponse(id=public_id))

    async def rotate_secret(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        rotated = await self._api.store.write(
            webhook_endpoints.rotate_secret, public_id, account_id=account_id, now=now_ms()
        )
        if rotated is None:
            raise _webhook_not_found(public_id)
        return ok(WebhookSecretResponse(data=self._with_secret(rotated.endpoint, rotated.secret)))

    # -- deliveries ------------------------------------------------------------

    async def list_deliveries(self, request: Request) -> Response:
        """The endpoint's deliveries, newest event first, paged by cursor."""
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        limit = query_limit(request, default=_LOG_PAGE, maximum=_MAX_LOG_PAGE)
        before = None
        raw_before = request.query_params.get("before")
        if raw_before:
            before = LogCursor.parse(raw_before)
            if before is None:
                raise ValidationError("before must be a cursor from a previous answer")
        status = None
        raw_status = request.query_params.get("status")
        if raw_status:
            if raw_status not in DeliveryStatus.__members__.values():
                raise ValidationError(f"status must be one of {_STATUSES}")
            status = DeliveryStatus(raw_status)
        found = await self._api.store.read(
            delivery_log.delivery_log,
            public_id,
            account_id=account_id,
            limit=limit,
            before=before,
            status=status,
        )
        if found is None:
            raise _webhook_not_found(public_id)
        last = found[-1] if len(found) == limit else None
        return ok(
            DeliveryListResponse(
                data=[self._delivery(delivery) for delivery in found],
                next_cursor=None if last is None else str(LogCursor(last.event_at, last.id)),
            )
        )

    async def get_delivery(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        delivery_id: str = request.path_params["delivery_id"]
        found = None
        if is_delivery_id(delivery_id):
            found = await self._api.store.read(
                delivery_log.get_delivery, public_id, delivery_id, account_id=account_id
            )
        if found is None:
            # Which of the two is missing is not told apart: both are "not yours".
            raise _delivery_not_found(delivery_id)
        return ok(DeliveryResponse(data=self._delivery(found)))

    async def redeliver(self, request: Request) -> Response:
        """One delivery again, or every dead one since a time."""
        account_id = await self._api.account_id(request)
        public_id = _webhook_id(request)
        body = convert_fields(await self._api.fields(request), RedeliverRequest)
        if body.delivery is None and body.since is None:
            raise ValidationError("delivery or since is required")
        if body.delivery is not None and body.since is not None:
            raise ValidationError("give delivery or since, not both")
        store, now = self._api.store, now_ms()
        if body.delivery is not None:
            if not is_delivery_id(body.delivery):
                raise _delivery_not_found(body.delivery)
            done = await store.write(
                deliveries.redeliver_one, public_id, body.delivery, account_id=account_id, now=now
            )
            if done is None:
                raise _delivery_not_found(body.delivery)
        else:
            assert body.since is not None
            since = parse_since(body.since, timezone=self._api.zone)
            done = await store.write(
                deliveries.redeliver_dead_since,
                public_id,
                account_id=account_id,
                since=since,
                now=now,
            )
            if done is None:
                raise _webhook_not_found(public_id)
        if not isinstance(done, int):
            raise ApiError(409, done.reason)
        return ok(RedeliverResponse(data=RedeliveredData(redelivered=done)))

    # -- rendering -------------------------------------------------------------

    def _url(self, url: str) -> str:
        if len(url) > MAX_URL_LENGTH:
            raise ValidationError(
                f"url is {len(url)} characters; at most {MAX_URL_LENGTH} are allowed"
            )
        try:
            return check_url(url, allow_private=self._api.settings.allow_private_urls)
        except InvalidURL as error:
            raise ValidationError(f"url: {error}") from None

    def _data(self, endpoint: EndpointView) -> WebhookData:
        iso = self._api.iso
        return WebhookData(
            id=endpoint.public_id,
            url=endpoint.url,
            events=list(endpoint.events),
            devices=None if endpoint.devices is None else list(endpoint.devices),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            failing_since=_maybe(iso, endpoint.failing_since),
            secret_hint=endpoint.secret_hint,
            previous_secret_expires_at=_maybe(iso, endpoint.previous_secret_until),
            pending_deliveries=endpoint.pending,
            dead_deliveries=endpoint.dead,
            created_at=iso(endpoint.created_at),
            updated_at=iso(endpoint.updated_at),
        )

    def _with_secret(self, endpoint: EndpointView, secret: str) -> WebhookSecretData:
        return WebhookSecretData(**msgspec.structs.asdict(self._data(endpoint)), secret=secret)

    def _delivery(self, delivery: DeliveryView) -> DeliveryData:
        iso = self._api.iso
        pending = delivery.status == DeliveryStatus.PENDING
        return DeliveryData(
            id=delivery.public_id,
            event=delivery.event_type,
            status=delivery.status,
            event_at=iso(delivery.event_at),
            next_attempt_at=iso(delivery.due_at) if pending else None,
            deadline_at=iso(delivery.deadline_at),
            delivered_at=_maybe(iso, delivery.delivered_at),
            payload=_PAYLOAD.decode(delivery.body),
            attempts=[
                AttemptData(
                    attempted_at=iso(attempt.attempted_at),
                    status_code=attempt.status_code,
                    latency_ms=attempt.latency_ms,
                    error=attempt.error,
                    response=attempt.response,
                )
                for attempt in delivery.attempts
            ],
        )


def _maybe(iso: Callable[[int], str], ms: int | None) -> str | None:
    return None if ms is None else iso(ms)


def _webhook_id(request: Request) -> str:
    """The path's endpoint id; one that no endpoint can have is not found, without a lookup."""
    public_id: str = request.path_params["webhook_id"]
    if not is_endpoint_id(public_id):
        raise _webhook_not_found(public_id)
    return public_id


def _webhook_not_found(public_id: str) -> ApiError:
    return ApiError(404, f"webhook {public_id[:40]!r} not found")


def _delivery_not_found(delivery_id: str) -> ApiError:
    return ApiError(404, f"delivery {delivery_id[:40]!r} not found")
