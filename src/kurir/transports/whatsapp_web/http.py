"""WhatsApp Web's routes: link a number by QR code or pairing code, unlink it, check numbers.

They work in any API process: a request is written to the device's pairing
row (or, for a check, its numbers' rows), the worker that holds the device
takes it up, and what WhatsApp answers comes back through the same rows. A
route that starts something waits a few seconds for its first result, so
one call usually answers with the QR code (or the pairing code) itself.
"""

import asyncio
from collections.abc import Callable

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.api.requests import MAX_CHECK_PHONES, CheckNumbersRequest, convert_fields
from kurir.api.types import CheckNumbersResponse, NumberCheck, PairingResponse
from kurir.clock import now_ms
from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.store.records import Device
from kurir.transports.whatsapp_web import store as db
from kurir.transports.whatsapp_web.layout import DeviceState

#: How long a route waits for the worker's first result before answering without it.
QR_WAIT_S = 10.0
CODE_WAIT_S = 30.0
DISCONNECT_WAIT_S = 20.0
CHECK_WAIT_S = 20.0
_POLL_S = 0.2


def whatsapp_web_routes(api: ApiContext, transport: str) -> list[BaseRoute]:
    """The routes, bound to one API process; ``transport`` is WhatsApp Web's name."""

    async def web_device(account_id: int, public_id: str) -> Device:
        device = await api.device(account_id, public_id)
        if device.transport != transport:
            raise ApiError(
                409,
                f"device {device.public_id} uses the {device.transport} transport, not {transport}",
            )
        return device

    async def device_of(request: Request) -> Device:
        account_id = await api.account_id(request)
        return await web_device(account_id, request.path_params["device"])

    async def view(device: Device) -> db.PairingView:
        return await api.store.read(db.pairing_view, device_id=device.id)

    def answer(device: Device, seen: db.PairingView) -> Response:
        held = _held(seen)
        session = seen.session
        qr = session.qr_code if session is not None else None
        return ok(
            PairingResponse(
                device=device.public_id,
                state=(seen.state or DeviceState.UNPAIRED) if held else "idle",
                qr=qr,
                qr_image=segno.make_qr(qr).png_data_uri(scale=4, border=2) if qr else None,
                pair_code=session.pair_code if session is not None else None,
                qr_updated_at=api.iso(session.qr_at)
                if session is not None and session.qr_at
                else None,
                last_result=session.pair_result if session is not None else None,
                message=None
                if held
                else f"no worker holds device {device.public_id} yet: "
                "pairing starts when `kurir serve` or `kurir worker` takes it",
            )
        )

    async def wait_for(
        device: Device, done: Callable[[db.PairingView], bool], seconds: float
    ) -> db.PairingView:
        """The pairing row once ``done`` holds, or as it is after ``seconds``."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            seen = await view(device)
            if done(seen) or not _held(seen) or asyncio.get_running_loop().time() > deadline:
                return seen
            await asyncio.sleep(_POLL_S)

    async def start_scan(request: Request) -> Response:
        device = await device_of(request)
        await refuse_if_paired(device)
        await api.store.write(db.request_pairing, device_id=device.id, phone=None, now=now_ms())
        return answer(device, await wait_for(device, _qr_shown, QR_WAIT_S))

    async def show_scan(request: Request) -> Response:
        device = await device_of(request)
        return answer(device, await view(device))

    async def pair_code(request: Request) -> Response:
        device = await device_of(request)
        # The body is optional: without one, the device's own number is linked.
        raw = (await api.fields(request)).get("phone") if await request.body() else None
        if raw is not None and not isinstance(raw, str | int):
            raise ValidationError("phone must be a phone number")
        phone = device.phone
        if raw is not None and str(raw).strip():
            phone = normalise_phone(str(raw), api.settings.default_region)
        await refuse_if_paired(device)
        await api.store.write(db.request_pairing, device_id=device.id, phone=phone, now=now_ms())
        seen = await wait_for(device, _code_shown, CODE_WAIT_S)
        if _held(seen) and not _code_shown(seen):
            raise ApiError(
                504,
                f"no pairing code for device {device.public_id} within {CODE_WAIT_S:g} s; "
                f"GET /device/scan/{device.public_id} shows it when it comes",
            )
        return answer(device, seen)

    async def disconnect(request: Request) -> Response:
        device = await device_of(request)
        await api.store.write(db.request_disconnect, device_id=device.id, now=now_ms())
        return answer(device, await wait_for(device, _disconnected, DISCONNECT_WAIT_S))

    async def check_numbers(request: Request) -> Response:
        account_id = await api.account_id(request)
        asked = convert_fields(await api.fields(request), CheckNumbersRequest)
        if len(asked.phones) > MAX_CHECK_PHONES:
            raise ValidationError(
                f"phones holds {len(asked.phones)} numbers; at most {MAX_CHECK_PHONES} at a time"
            )
        if not asked.phones:
            raise ValidationError("phones must hold at least one phone number")
        region = api.settings.default_region
        phones = [
            normalise_phone(str(raw), region, field=f"phones[{index}]")
            for index, raw in enumerate(asked.phones)
        ]
        device = await web_device(account_id, asked.device)
        seen = await view(device)
        if not _held(seen):
            raise ApiError(
                409,
                f"no worker holds device {device.public_id} yet: numbers are checked by the "
                "worker that holds it (`kurir serve` or `kurir worker`)",
            )
        if seen.state != DeviceState.CONNECTED:
            raise ApiError(
                409,
                f"device {device.public_id} is {seen.state or DeviceState.UNPAIRED}: numbers "
                "can be checked only while it is connected",
            )
        unique = list(dict.fromkeys(phones))
        store = api.store
        await store.write(db.request_check, device_id=device.id, phones=unique, now=now_ms())
        deadline = asyncio.get_running_loop().time() + CHECK_WAIT_S
        while True:
            found = await store.read(db.known_numbers, device_id=device.id, phones=unique)
            if len(found) == len(unique):
                break
            if asyncio.get_running_loop().time() > deadline:
                raise ApiError(
                    504,
                    f"device {device.public_id} did not answer within {CHECK_WAIT_S:g} s; "
                    "try again",
                )
            await asyncio.sleep(_POLL_S)
        checks = [NumberCheck(phone=phone, on_whatsapp=found[phone]) for phone in phones]
        return ok(CheckNumbersResponse(device=device.public_id, data=checks))

    async def refuse_if_paired(device: Device) -> None:
        seen = await view(device)
        if seen.session is not None and seen.session.jid is not None:
            raise ApiError(
                409,
                f"device {device.public_id} is paired already; "
                f"POST /device/disconnect/{device.public_id} unlinks it first",
            )

    return [
        Route("/device/scan/{device}", start_scan, methods=["POST"]),
        Route("/device/scan/{device}", show_scan, methods=["GET"]),
        Route("/device/pair-code/{device}", pair_code, methods=["POST"]),
        Route("/device/disconnect/{device}", disconnect, methods=["POST"]),
        Route("/check-numbers", check_numbers, methods=["POST"]),
    ]


def _held(seen: db.PairingView) -> bool:
    return seen.lease_until is not None and seen.lease_until > now_ms()


def _qr_shown(seen: db.PairingView) -> bool:
    session = seen.session
    return session is not None and (
        session.qr_code is not None or session.jid is not None or session.pair_result is not None
    )


def _code_shown(seen: db.PairingView) -> bool:
    session = seen.session
    return session is not None and (
        session.pair_code is not None or session.jid is not None or session.pair_result is not None
    )


def _disconnected(seen: db.PairingView) -> bool:
    return seen.session is None or not seen.session.disconnect_requested
