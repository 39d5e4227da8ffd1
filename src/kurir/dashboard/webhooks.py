"""Webhooks: endpoints (add, pause, resume, rotate the secret, remove) and delivery logs.

Every change is a call to the API's ``/webhooks`` routes; a new or rotated
secret is shown on the page that made it, once, as the API shows it.
"""

from starlette.responses import Response

from kurir.dashboard.core import Dashboard, SignedIn
from kurir.domain.events import EVENTS


async def list_page(dash: Dashboard, who: SignedIn) -> Response:
    answer = await dash.call(who, "GET", "/webhooks")
    endpoints = answer.body["data"] if answer.ok else []
    return dash.page(who, "webhooks.html", endpoints=endpoints, events=EVENTS, secret=None)


async def add(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    body: dict[str, object] = {
        "url": str(form.get("url", "")),
        "events": [str(name) for name in form.getlist("events")],
    }
    devices = [part.strip() for part in str(form.get("devices", "")).split(",") if part.strip()]
    if devices:
        body["devices"] = devices
    answer = await dash.call(who, "POST", "/webhooks", body=body)
    return await _with_secret(dash, who, answer.body if answer.ok else None, answer.error)


async def rotate(dash: Dashboard, who: SignedIn) -> Response:
    await dash.form(who)
    webhook = who.request.path_params["webhook_id"]
    answer = await dash.call(who, "POST", f"/webhooks/{webhook}/rotate-secret")
    return await _with_secret(dash, who, answer.body if answer.ok else None, answer.error)


async def set_enabled(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    webhook = who.request.path_params["webhook_id"]
    enabled = form.get("enabled") == "true"
    answer = await dash.call(who, "PATCH", f"/webhooks/{webhook}", body={"enabled": enabled})
    done = f"endpoint {webhook} {'resumed' if enabled else 'paused'}"
    return dash.outcome(who, answer, done, "/dashboard/webhooks")


async def remove(dash: Dashboard, who: SignedIn) -> Response:
    await dash.form(who)
    webhook = who.request.path_params["webhook_id"]
    answer = await dash.call(who, "DELETE", f"/webhooks/{webhook}")
    return dash.outcome(who, answer, f"endpoint {webhook} removed", "/dashboard/webhooks")


async def log_page(dash: Dashboard, who: SignedIn) -> Response:
    webhook = who.request.path_params["webhook_id"]
    query = {
        name: value
        for name in ("before", "status")
        if (value := who.request.query_params.get(name, ""))
    }
    endpoint = await dash.call(who, "GET", f"/webhooks/{webhook}")
    if not endpoint.ok:
        return dash.page(who, "refused.html", endpoint.status, reason=endpoint.error)
    log = await dash.call(who, "GET", f"/webhooks/{webhook}/deliveries", query=query)
    if not log.ok:
        return dash.page(who, "refused.html", log.status, reason=log.error)
    return dash.page(
        who,
        "webhook.html",
        endpoint=endpoint.body["data"],
        deliveries=log.body["data"],
        next_cursor=log.body["next_cursor"],
        status_filter=query.get("status", ""),
    )


async def redeliver(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    webhook = who.request.path_params["webhook_id"]
    if delivery := str(form.get("delivery", "")):
        body = {"delivery": delivery}
    else:
        body = {"since": str(form.get("since", ""))}
    answer = await dash.call(who, "POST", f"/webhooks/{webhook}/redeliver", body=body)
    count = answer.body["data"]["redelivered"] if answer.ok else 0
    return dash.outcome(
        who, answer, f"{count} deliveries due again", f"/dashboard/webhooks/{webhook}"
    )


async def _with_secret(
    dash: Dashboard, who: SignedIn, created: dict[str, object] | None, error: str
) -> Response:
    """The list again, with the secret just issued (shown this once) or the refusal."""
    answer = await dash.call(who, "GET", "/webhooks")
    endpoints = answer.body["data"] if answer.ok else []
    secret = created["data"] if created is not None else None
    if created is None:
        dash.notify(who, error, error=True)
    return dash.page(
        who,
        "webhooks.html",
        200 if created is not None else 400,
        endpoints=endpoints,
        events=EVENTS,
        secret=secret,
    )


PAGES = [
    ("/dashboard/webhooks", "GET", list_page),
    ("/dashboard/webhooks", "POST", add),
    ("/dashboard/webhooks/{webhook_id}", "GET", log_page),
    ("/dashboard/webhooks/{webhook_id}/rotate", "POST", rotate),
    ("/dashboard/webhooks/{webhook_id}/enabled", "POST", set_enabled),
    ("/dashboard/webhooks/{webhook_id}/remove", "POST", remove),
    ("/dashboard/webhooks/{webhook_id}/redeliver", "POST", redeliver),
]
