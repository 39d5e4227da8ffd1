"""Send: a form for a text, media or button message, now or scheduled.

The form posts to the API's own send endpoints (the same pipeline as any
client's); the page shows the request as curl and as Python with
`kurir.Client` (built by the page's script as the fields change).
"""

from typing import Any

from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from kurir.dashboard.core import Dashboard, SignedIn

KINDS = ("text", "media", "button")
_FIELDS = {
    "text": ("message",),
    "media": ("url", "type", "caption", "filename"),
    "button": ("message_header", "message", "message_footer"),
}


async def form_page(dash: Dashboard, who: SignedIn) -> Response:
    query = who.request.query_params
    values = {"kind": query.get("kind", "text"), "device": query.get("device", "")}
    return await _page(dash, who, values, None)


async def submit(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    values = {name: str(value) for name, value in form.items() if name != "csrf"}
    kind = values.get("kind", "")
    if kind not in KINDS:
        return await _page(dash, who, values, f"kind must be one of {', '.join(KINDS)}")
    answer = await dash.call(who, "POST", f"/send/{kind}", body=request_body(kind, form))
    if not answer.ok:
        return await _page(dash, who, values, answer.error)
    message_id = answer.body["message_id"]
    dash.notify(who, f"message {message_id} accepted")
    return RedirectResponse(f"/dashboard/messages/{message_id}", status_code=303)


def request_body(kind: str, form: FormData) -> dict[str, Any]:
    """The API request the form stands for (fields left empty are left out)."""
    body: dict[str, Any] = {
        "device": str(form.get("device", "")),
        "phone": str(form.get("phone", "")),
    }
    for name in _FIELDS[kind]:
        value = str(form.get(name, ""))
        if value or name in ("message", "message_header", "message_footer", "url"):
            body[name] = value
    if kind == "button":
        lines = str(form.get("buttons", "")).splitlines()
        body["buttons"] = [line.strip() for line in lines if line.strip()]
    schedule = str(form.get("schedule", "")).strip()
    if schedule:
        body["schedule"] = schedule.replace("T", " ")
    return body


async def _page(
    dash: Dashboard, who: SignedIn, values: dict[str, str], error: str | None
) -> Response:
    answer = await dash.call(who, "GET", "/device/list")
    devices = [device["device"] for device in answer.body["data"]] if answer.ok else []
    return dash.page(
        who,
        "send.html",
        400 if error else 200,
        kinds=KINDS,
        devices=devices,
        values=values,
        error=error,
        base_url=str(who.request.base_url).rstrip("/"),
    )


PAGES = [
    ("/dashboard/send", "GET", form_page),
    ("/dashboard/send", "POST", submit),
]
