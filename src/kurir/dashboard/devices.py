"""Devices: each with its transport, state and pacing; add one; pair and unlink WhatsApp Web.

Pairing is the API's (``/device/scan``, ``/device/pair-code``,
``/device/disconnect``); the pairing page polls `pairing` for the code
WhatsApp shows now and for the moment the phone links.
"""

import secrets

from sqlalchemy.exc import IntegrityError
from starlette.responses import JSONResponse, RedirectResponse, Response

from kurir.clock import now_ms
from kurir.dashboard.core import Dashboard, SignedIn
from kurir.domain.devices import check_device_id
from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.store import accounts
from kurir.transports.registry import TransportConfigError, read_config, transport_class

#: What a device can be added as here: the transports that need no credentials.
ADDABLE = ("sandbox", "whatsapp-web")
_PAIRED_STATES = ("connected",)


async def list_page(dash: Dashboard, who: SignedIn) -> Response:
    answer = await dash.call(who, "GET", "/device/list")
    found = answer.body["data"] if answer.ok else []
    return dash.page(who, "devices.html", devices=found, addable=ADDABLE)


async def add(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    transport = str(form.get("transport", ""))
    try:
        if transport not in ADDABLE:
            raise ValidationError(f"transport must be one of {', '.join(ADDABLE)}")
        settings = dash.api.settings
        phone = normalise_phone(str(form.get("phone", "")), settings.default_region)
        public_id = check_device_id(
            str(form.get("device", "")).strip() or secrets.token_hex(6), field="device"
        )
        read_config(transport, "{}", default_region=settings.default_region)
    except (ValidationError, TransportConfigError) as error:
        message = error.message if isinstance(error, ValidationError) else str(error)
        dash.notify(who, message, error=True)
        return RedirectResponse("/dashboard/devices", status_code=303)
    lowest, highest = transport_class(transport).default_pacing_ms
    try:
        await dash.api.store.write(
            accounts.add_device,
            public_id=public_id,
            account_id=who.account_id,
            phone=phone,
            transport=transport,
            config="{}",
            min_interval_ms=lowest,
            max_interval_ms=max(lowest, highest),
            created_at=now_ms(),
        )
    except IntegrityError:  # ids stay taken after removal, and across accounts
        dash.notify(who, f"device id {public_id!r} is taken", error=True)
        return RedirectResponse("/dashboard/devices", status_code=303)
    dash.notify(who, f"device {public_id} added ({transport})")
    return RedirectResponse("/dashboard/devices", status_code=303)


async def start_pairing(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    device = who.request.path_params["device"]
    if form.get("mode") == "code":
        phone = str(form.get("phone", "")).strip()
        body = {"phone": phone} if phone else None
        answer = await dash.call(who, "POST", f"/device/pair-code/{device}", body=body)
    else:
        answer = await dash.call(who, "POST", f"/device/scan/{device}")
    if not answer.ok:
        dash.notify(who, answer.error, error=True)
        return RedirectResponse("/dashboard/devices", status_code=303)
    return RedirectResponse(f"/dashboard/devices/{device}/pair", status_code=303)


async def pairing_page(dash: Dashboard, who: SignedIn) -> Response:
    device = who.request.path_params["device"]
    answer = await dash.call(who, "GET", f"/device/scan/{device}")
    if not answer.ok:
        return dash.page(who, "refused.html", answer.status, reason=answer.error)
    return dash.page(who, "pair.html", device=device, pairing=_pairing(answer.body))


async def pairing(dash: Dashboard, who: SignedIn) -> Response:
    """The pairing as it is now, for the page's poll."""
    device = who.request.path_params["device"]
    answer = await dash.call(who, "GET", f"/device/scan/{device}")
    body = _pairing(answer.body) if answer.ok else {"error": answer.error}
    return JSONResponse(body, status_code=answer.status, headers={"Cache-Control": "no-store"})


async def disconnect(dash: Dashboard, who: SignedIn) -> Response:
    await dash.form(who)
    device = who.request.path_params["device"]
    answer = await dash.call(who, "POST", f"/device/disconnect/{device}")
    return dash.outcome(who, answer, f"device {device} unlinked", "/dashboard/devices")


def _pairing(body: dict[str, object]) -> dict[str, object]:
    return {
        "state": body["state"],
        "paired": body["state"] in _PAIRED_STATES,
        "qr_image": body.get("qr_image"),
        "pair_code": body.get("pair_code"),
        "qr_updated_at": body.get("qr_updated_at"),
        "last_result": body.get("last_result"),
        "message": body.get("message"),
    }


PAGES = [
    ("/dashboard/devices", "GET", list_page),
    ("/dashboard/devices", "POST", add),
    ("/dashboard/devices/{device}/pair", "POST", start_pairing),
    ("/dashboard/devices/{device}/pair", "GET", pairing_page),
    ("/dashboard/devices/{device}/pairing", "GET", pairing),
    ("/dashboard/devices/{device}/disconnect", "POST", disconnect),
]
