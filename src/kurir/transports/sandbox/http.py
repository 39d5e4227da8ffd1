"""The sandbox's own routes: what it delivered, and a recipient's answers.

``POST /sandbox/{device}/reply`` plays the recipient of the latest message
the device delivered to a phone: pressing one of its buttons (by label or
position) or writing a text. Both go through the device's event sink, the
path a real provider's webhook takes, so an integrator sees exactly what
production will do, webhooks included: a text that is a label or number of
the latest button message becomes its reply there too, and is answered as a
press is.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kurir.api.body import FormFields, query_limit, whole_number
from kurir.api.context import ApiContext, ok
from kurir.api.errors import ApiError
from kurir.api.requests import SandboxReplyRequest, convert_fields
from kurir.api.types import (
    ReceivedResponse,
    SandboxDeliveriesResponse,
    SandboxDeliveryData,
    SandboxReplyResponse,
)
from kurir.api.views import content_data
from kurir.clock import now_ms
from kurir.domain.buttons import ButtonMessage, find_button
from kurir.domain.content import decode_content, kind_of
from kurir.domain.errors import ValidationError
from kurir.domain.phone import normalise_phone
from kurir.domain.text import check_text
from kurir.store.records import ButtonPress, Device, InboundMessage, ReplyRecorded
from kurir.transports.registry import transport_limits
from kurir.transports.sandbox.store import latest_delivered, list_deliveries

#: Positions in a form reply are read up to this; any that large is out of range anyway.
_MAX_POSITION = 999_999_999


def sandbox_routes(api: ApiContext, transport: str) -> list[BaseRoute]:
    """The routes, bound to one API process; ``transport`` is the sandbox's name."""

    async def sandbox_device(request: Request) -> Device:
        account_id = await api.account_id(request)
        device = await api.device(account_id, request.path_params["device"])
        if device.transport != transport:
            raise ApiError(
                409,
                f"device {device.public_id} uses the {device.transport} transport, not {transport}",
            )
        return device

    async def reply(request: Request) -> Response:
        device = await sandbox_device(request)
        fields = await api.fields(request)
        answer = convert_fields(fields, SandboxReplyRequest)
        sender = normalise_phone(str(answer.phone), api.settings.default_region)
        events = api.events_for(device)
        at = now_ms()
        if answer.button is None and answer.text is not None:
            text = check_text(
                "text", answer.text, transport_limits(transport).max_text, multiline=True
            )
            written = InboundMessage(sender=sender, type="text", at=at, text=text)
            became = await events.record_inbound(written)
            if isinstance(became, ReplyRecorded):  # a label or number of the latest buttons
                return ok(
                    SandboxReplyResponse(
                        message_id=became.message_id, button=became.label, index=became.index
                    )
                )
            return ok(ReceivedResponse())
        choice = _choice(answer.button, form=isinstance(fields, FormFields))
        target = await api.store.read(latest_delivered, device_id=device.id, recipient=sender)
        if target is None:
            raise ApiError(404, f"device {device.public_id} has sent nothing to {sender} yet")
        message_id, stored = target
        content = decode_content(stored)
        if not isinstance(content, ButtonMessage):
            raise ApiError(
                409, f"the latest message to {sender} ({message_id}) has no buttons to press"
            )
        index, label = find_button(content.buttons, choice)
        await events.button_press(
            ButtonPress(message_id=message_id, sender=sender, index=index, at=at)
        )
        return ok(SandboxReplyResponse(message_id=message_id, button=label, index=index))

    async def deliveries(request: Request) -> Response:
        device = await sandbox_device(request)
        found = await api.store.read(
            list_deliveries, device_id=device.id, limit=query_limit(request)
        )
        limits = transport_limits(transport)
        return ok(
            SandboxDeliveriesResponse(
                data=[
                    SandboxDeliveryData(
                        message_id=item.message_id,
                        to=item.recipient,
                        type=kind_of(content := decode_content(item.content)),
                        content=content_data(content, limits),
                        delivered_at=api.iso(item.delivered_at),
                        sends=item.send_count,
                    )
                    for item in found
                ]
            )
        )

    return [
        Route("/sandbox/{device}/reply", reply, methods=["POST"]),
        Route("/sandbox/{device}/messages", deliveries, methods=["GET"]),
    ]


def _choice(choice: str | int | None, *, form: bool) -> str | int:
    """The button a reply presses: its label, or its position counted from 1."""
    if form and isinstance(choice, str) and choice.strip().isdigit():
        # A form has only text: "2" there is the position, as the number 2 is in JSON.
        choice = whole_number(choice.strip(), _MAX_POSITION)
    # JSON numbers come as long as msgspec reads them (4,300 digits): none so
    # large is a position, nor worth spelling out in the answer.
    if choice is None or (isinstance(choice, int) and abs(choice) > _MAX_POSITION):
        raise ValidationError("button must be a button's label or its position (from 1)")
    return choice
