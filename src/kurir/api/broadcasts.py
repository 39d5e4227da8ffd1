"""The broadcast endpoints: create (Alat WA's), read, list, pause, resume, cancel.

Creating checks everything before storing anything: the fields, the file,
every receiver's number and text. Faults in receivers are reported all at
once (index, number, reason), or skipped and counted with ``skip_invalid``.
The checks of many receivers run on a worker thread, so the server keeps
answering other requests meanwhile.
"""

import hashlib
import random
import re
import secrets
from typing import Any

import msgspec
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kurir.api.body import idempotency_key, query_cursor, query_limit, read_fields
from kurir.api.broadcast_build import BuildInput, Built, build_messages, invalid_response
from kurir.api.broadcast_requests import BroadcastCreateRequest, convert_bulk
from kurir.api.broadcast_types import (
    BroadcastActionResponse,
    BroadcastCreatedResponse,
    BroadcastData,
    BroadcastListResponse,
    BroadcastResponse,
    BroadcastTotals,
)
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.clock import now_ms, to_datetime, to_ms
from kurir.domain.broadcast import (
    DailyWindow,
    clock_text,
    interval_ms,
    parse_window,
    shown_state,
)
from kurir.domain.contacts import group_name, yes_no
from kurir.domain.content import MessageKind, require_kind
from kurir.domain.errors import ValidationError
from kurir.domain.inline_media import decode_inline_media
from kurir.domain.schedule import parse_schedule
from kurir.domain.spintax import parse_template
from kurir.domain.text import check_text
from kurir.metrics import METRICS
from kurir.store import accounts, planning
from kurir.store import broadcasts as store_broadcasts
from kurir.store import contacts as store_contacts
from kurir.store.broadcast_records import Broadcast, BroadcastProgress, NewBroadcast
from kurir.store.records import Device
from kurir.transports.registry import transport_limits

_ENCODER = msgspec.json.Encoder()
_PUBLIC_ID = re.compile(r"[0-9a-f]{16}")
#: Messages failed per transaction while a cancel runs to its end.
_CANCEL_BATCH = 5000


class BroadcastRoutes:
    """The broadcast handlers of one API process."""

    def __init__(self, api: ApiContext) -> None:
        self._api = api
        self._settings = api.settings
        self._rng = random.Random()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/broadcast/create", self.create, methods=["POST"]),
            # Before the id's route, which would otherwise take "list" for an id.
            Route("/broadcast/list", self.list, methods=["GET"]),
            Route("/broadcast/{broadcast_id}", self.get, methods=["GET"]),
            Route("/broadcast/{broadcast_id}/pause", self.pause, methods=["POST"]),
            Route("/broadcast/{broadcast_id}/resume", self.resume, methods=["POST"]),
            Route("/broadcast/{broadcast_id}/cancel", self.cancel, methods=["POST"]),
        ]

    # -- create --------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        api, settings = self._api, self._settings
        account_id = await api.account_id(request)
        key = idempotency_key(request)
        fields = await read_fields(request, settings.max_broadcast_bytes)
        fingerprint = None
        if key is not None:
            fingerprint = hashlib.sha256(_ENCODER.encode(fields)).hexdigest()
            earlier = await api.store.read(
                store_broadcasts.find_by_key, account_id=account_id, idempotency_key=key
            )
            if earlier is not None:
                return _replayed(earlier, fingerprint)
        body = convert_bulk(fields, BroadcastCreateRequest)
        del fields  # the receivers are in ``body`` now; a large body is not kept twice
        device = await self._device(account_id, body.device)
        limits = transport_limits(device.transport)
        kind = _kind(body.type)
        require_kind(kind, limits, device.transport)
        title = check_text("title", body.title, 200)
        now = now_ms()
        starts_at = to_ms(
            parse_schedule(
                body.date_execute,
                now=to_datetime(now).astimezone(api.zone),
                timezone=api.zone,
                horizon=settings.schedule_horizon,
            )
        )
        window = parse_window(body.active_start, body.active_end)
        interval_from = interval_ms("interval_from", body.interval_from, 5)
        interval_to = interval_ms("interval_to", body.interval_to, 15)
        if interval_to < interval_from:
            raise ValidationError("interval_to must not be less than interval_from")
        media = None
        if kind == MessageKind.MEDIA:
            media = decode_inline_media("media_base64", body.media_base64 or "", limits)
        elif body.media_base64:
            raise ValidationError("media_base64 is only for a broadcast of type media")
        # A media broadcast's caption; Alat WA's clients may send it as the message.
        default_text = (body.caption or body.message) if kind == MessageKind.MEDIA else body.message
        default = None
        if default_text is not None and default_text.strip():
            field = "caption" if kind == MessageKind.MEDIA else "message"
            try:
                default = parse_template(default_text)
            except ValidationError as error:
                raise ValidationError(f"{field}: {error.message}") from None
        group = None
        if body.group is not None and body.group.strip():
            if body.receiver:
                raise ValidationError("give receiver or group, not both")
            group = await api.store.read(
                store_contacts.group_contacts, account_id=account_id, group=group_name(body.group)
            )
            if not group:
                raise ValidationError(f"group {body.group.strip()[:40]!r} has no contacts")
        elif not body.receiver:
            raise ValidationError("receiver is required (a list of {phone, message}), or group")
        public_id = secrets.token_hex(8)
        built = await self._build(
            BuildInput(
                account_id=account_id,
                public_id=public_id,
                kind=kind,
                media=media,
                default=default,
                receivers=body.receiver,
                group=group,
                international_only=not yes_no(
                    "generate_receiver", body.generate_receiver, default=True
                ),
                region=settings.default_region,
                limits=limits,
            )
        )
        if built.invalid and not yes_no("skip_invalid", body.skip_invalid, default=False):
            return invalid_response(built.invalid, item="receiver")
        if not built.messages:
            raise ValidationError(
                f"no receiver is left to send to ({len(built.invalid)} invalid, "
                f"{built.duplicates} repeated, {built.opted_out} opted out)"
            )
        new = NewBroadcast(
            public_id=public_id,
            account_id=account_id,
            device_id=device.id,
            title=title,
            type=kind,
            starts_at=starts_at,
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            interval_from_ms=interval_from,
            interval_to_ms=interval_to,
            invalid=len(built.invalid),
            duplicates=built.duplicates,
            opted_out=built.opted_out,
            created_at=now,
            media=media,
            idempotency_key=key,
            request_fingerprint=fingerprint,
        )
        try:
            created = await api.store.write(
                store_broadcasts.create_broadcast,
                new,
                built.messages,
                zone=api.zone,
                rng=self._rng,
            )
        except IntegrityError:
            if key is None:
                raise
            # A concurrent request with the same key stored its broadcast first.
            earlier = await api.store.read(
                store_broadcasts.find_by_key, account_id=account_id, idempotency_key=key
            )
            if earlier is None:
                raise
            assert fingerprint is not None  # computed with the key
            return _replayed(earlier, fingerprint)
        if created is None:
            api.auth.forget_device(device.public_id)
            raise ApiError(404, f"device {device.public_id!r} not found")
        api.store.announce_new_messages({device.id})
        METRICS.counts.accepted[str(kind)] += len(built.messages)
        return ok(_created(created))

    async def _build(self, given: BuildInput) -> Built:
        """The messages of a broadcast, its numbers and texts checked off the event loop."""
        store = self._api.store
        return await build_messages(
            given,
            opted_out=lambda phones: store.read(
                store_contacts.opted_out, account_id=given.account_id, phones=phones
            ),
            contacts_of=lambda phones: store.read(
                store_contacts.contacts_by_phone, account_id=given.account_id, phones=phones
            ),
            rng=self._rng,
        )

    async def _device(self, account_id: int, public_id: str) -> Device:
        """The named device; ``default``, unless a device has that id, is the account's first."""
        try:
            return await self._api.device(account_id, public_id)
        except ApiError as error:
            if error.status_code != 404 or public_id.strip() != "default":
                raise
        found = await self._api.store.read(accounts.list_devices, account_id=account_id)
        if not found:
            raise ApiError(404, "device 'default' not found: the account has no device")
        return found[0]

    # -- reading -------------------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        public_id = _broadcast_id(request)
        found = await self._api.store.read(
            store_broadcasts.broadcast_with_progress, public_id, account_id=account_id
        )
        if found is None:
            raise _not_found(public_id)
        broadcast, progress = found
        return ok(BroadcastResponse(data=self._data(broadcast, progress)))

    async def list(self, request: Request) -> Response:
        account_id = await self._api.account_id(request)
        limit = query_limit(request)
        before = query_cursor(request)
        found = await self._api.store.read(
            store_broadcasts.list_broadcasts, account_id=account_id, limit=limit, before=before
        )
        return ok(
            BroadcastListResponse(
                data=[self._data(broadcast, None, waiting=waiting) for broadcast, waiting in found],
                next_cursor=str(found[-1][0].id) if len(found) == limit else None,
            )
        )

    def _data(
        self, broadcast: Broadcast, progress: BroadcastProgress | None, *, waiting: bool = True
    ) -> BroadcastData:
        api = self._api
        window = None
        if broadcast.window_start is not None and broadcast.window_end is not None:
            window = DailyWindow(broadcast.window_start, broadcast.window_end)
        left = progress.waiting if progress is not None else int(waiting)
        state = shown_state(
            broadcast.state, waiting=left, now=now_ms(), starts_at=broadcast.starts_at
        )
        next_due = progress.next_due_at if progress is not None else None
        return BroadcastData(
            broadcast_id=broadcast.public_id,
            title=broadcast.title,
            device=broadcast.device,
            type=broadcast.type,
            state=state,
            date_execute=api.iso(broadcast.starts_at),
            active_start=clock_text(window.start) if window else None,
            active_end=clock_text(window.end) if window else None,
            interval_from=_seconds(broadcast.interval_from_ms),
            interval_to=_seconds(broadcast.interval_to_ms),
            total_receiver=broadcast.total,
            total_invalid=broadcast.invalid,
            total_duplicate=broadcast.duplicates,
            total_opted_out=broadcast.opted_out,
            totals=msgspec.convert(progress.by_status, BroadcastTotals) if progress else None,
            next_send_at=api.iso(next_due) if next_due is not None else None,
            created_at=api.iso(broadcast.created_at),
        )

    # -- pause, resume, cancel -----------------------------------------------------------------

    async def pause(self, request: Request) -> Response:
        return await self._act(request, "paused", store_broadcasts.pause_broadcast)

    async def resume(self, request: Request) -> Response:
        return await self._act(
            request,
            "resumed",
            store_broadcasts.resume_broadcast,
            zone=self._api.zone,
            rng=self._rng,
        )

    async def cancel(self, request: Request) -> Response:
        return await self._act(request, "cancelled", store_broadcasts.cancel_broadcast)

    async def _act(self, request: Request, done: str, action: Any, **extra: Any) -> Response:
        api = self._api
        account_id = await api.account_id(request)
        public_id = _broadcast_id(request)
        now = now_ms()
        result = await api.store.write(action, public_id, account_id=account_id, now=now, **extra)
        if result is None:
            raise _not_found(public_id)
        if not isinstance(result, Broadcast):
            problem = f"broadcast {public_id} is {result.state}; it can no longer be {done}"
            raise ApiError(409, problem)
        if result.state == "cancelled":
            await self._fail_the_rest(result)
        elif result.state == "active":
            api.store.announce_new_messages({result.device_id})
        progress = await api.store.read(store_broadcasts.progress, result.id)
        state = self._data(result, progress).state
        return ok(
            BroadcastActionResponse(
                message=f"Broadcast {done}", broadcast_id=public_id, state=state
            )
        )

    async def _fail_the_rest(self, broadcast: Broadcast) -> None:
        """Fail a cancelled broadcast's waiting messages, a batch a transaction.

        Short transactions leave the writer to other requests between them;
        if the process stops meanwhile, the planner finishes the job.
        """
        while True:
            done = await self._api.store.write(
                planning.plan_broadcast,
                broadcast.id,
                now=now_ms(),
                zone=self._api.zone,
                rng=self._rng,
                budget=_CANCEL_BATCH,
            )
            if done is None or done.count < _CANCEL_BATCH:
                return


def _kind(raw: str | None) -> MessageKind:
    kind = (raw or "").strip().lower() or "text"
    if kind not in (MessageKind.TEXT, MessageKind.MEDIA):
        raise ValidationError(f"type must be text or media, not {kind[:20]!r}")
    return MessageKind(kind)


def _created(broadcast: Broadcast) -> BroadcastCreatedResponse:
    return BroadcastCreatedResponse(
        broadcast_id=broadcast.public_id,
        total_receiver=broadcast.total,
        total_invalid=broadcast.invalid,
        total_duplicate=broadcast.duplicates,
        total_opted_out=broadcast.opted_out,
    )


def _replayed(earlier: Broadcast, fingerprint: str) -> Response:
    if earlier.request_fingerprint != fingerprint:
        raise ApiError(
            409,
            "Idempotency-Key was already used for a different request "
            f"(broadcast {earlier.public_id})",
        )
    return ok(_created(earlier))


def _seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _broadcast_id(request: Request) -> str:
    public_id: str = request.path_params["broadcast_id"]
    if _PUBLIC_ID.fullmatch(public_id) is None:
        raise _not_found(public_id)
    return public_id


def _not_found(public_id: str) -> ApiError:
    return ApiError(404, f"broadcast {public_id[:40]!r} not found")
