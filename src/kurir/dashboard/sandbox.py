"""The sandbox phone: a device's chats as the recipients' phones would show them.

A chat is the device's messages to one recipient and what that recipient
sent back, oldest first. Pressing a button or typing goes through
``POST /sandbox/{device}/reply``, the API's way of playing the recipient;
the message then turns read, as a real phone's receipt would make it.
"""

from typing import Any

import msgspec
from starlette.responses import RedirectResponse, Response

from kurir.api.errors import ApiError
from kurir.api.views import iso_time, message_data
from kurir.dashboard.core import Dashboard, SignedIn
from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.store.inbound import list_inbound
from kurir.store.message_list import MessageFilter, list_messages
from kurir.store.records import Device

SANDBOX = "sandbox"
#: How far back a chat reads: a sandbox is for trying flows, not for archives.
_RECENT = 200
_SENT = ("sent", "delivered", "read")
_MAX_DIGITS = 9


async def phone_page(dash: Dashboard, who: SignedIn) -> Response:
    device = await _sandbox_device(dash, who)
    if isinstance(device, Response):
        return device
    recent = await dash.api.store.read(
        list_messages,
        account_id=who.account_id,
        where=MessageFilter(device_id=device.id),
        limit=_RECENT,
    )
    chats = list(dict.fromkeys(view.recipient for _, view in recent))
    chosen = who.request.query_params.get("chat", "")
    if chosen not in chats:
        chosen = chats[0] if chats else ""
    bubbles: list[dict[str, Any]] = []
    latest_sent = None
    for _, view in reversed(recent):
        if view.recipient != chosen:
            continue
        data = msgspec.to_builtins(message_data(view, dash.api.zone))
        at = view.created_at
        bubbles.append({"side": "in", "at": at, "message": data})
        if view.status in _SENT:
            latest_sent = view.message_id
        if data.get("reply"):
            reply_at = msgspec.json.decode(view.reply or "{}").get("at", at)
            bubbles.append({"side": "out", "at": reply_at, "text": data["reply"]["button"]})
    inbound = await dash.api.store.read(
        list_inbound, account_id=who.account_id, limit=_RECENT, device_id=device.id
    )
    for item in inbound:
        if item.sender == chosen and item.type == "text":
            bubbles.append({"side": "out", "at": item.received_at, "text": item.text or ""})
    bubbles.sort(key=lambda bubble: bubble["at"])
    for bubble in bubbles:
        bubble["time"] = iso_time(bubble["at"], dash.api.zone)[11:16]
    return dash.page(
        who,
        "sandbox.html",
        device=device.public_id,
        chats=chats,
        chosen=chosen,
        bubbles=bubbles,
        pressable=latest_sent,
    )


async def reply(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    device = who.request.path_params["device"]
    phone = str(form.get("phone", ""))
    body: dict[str, Any] = {"phone": phone}
    if form.get("button"):
        button = str(form.get("button"))
        # A position as the number it is; anything longer is a label for the API to refuse.
        position = button.isascii() and button.isdigit() and len(button) <= _MAX_DIGITS
        body["button"] = int(button) if position else button
    else:
        body["text"] = str(form.get("text", ""))
    answer = await dash.call(who, "POST", f"/sandbox/{device}/reply", body=body)
    if not answer.ok:
        dash.notify(who, answer.error, error=True)
    try:
        chat = normalise_phone(phone, dash.api.settings.default_region)
    except ValidationError:
        chat = ""
    return RedirectResponse(f"/dashboard/sandbox/{device}?chat={chat}", status_code=303)


async def _sandbox_device(dash: Dashboard, who: SignedIn) -> Device | Response:
    public_id = who.request.path_params["device"]
    try:
        device = await dash.api.device(who.account_id, public_id)
    except ApiError as error:
        return dash.page(who, "refused.html", error.status_code, reason=error.message)
    if device.transport != SANDBOX:
        reason = f"device {public_id} uses the {device.transport} transport, not the sandbox"
        return dash.page(who, "refused.html", 409, reason=reason)
    return device


PAGES = [
    ("/dashboard/sandbox/{device}", "GET", phone_page),
    ("/dashboard/sandbox/{device}/reply", "POST", reply),
]
