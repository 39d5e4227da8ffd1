"""API keys: create one (shown once), label it, revoke it.

Keys are made and stored by `kurir.store.accounts` exactly as ``kurir keys``
makes them; the new key is on the page that made it, and nowhere after.
"""

from starlette.responses import RedirectResponse, Response

from kurir.clock import now_ms
from kurir.dashboard.core import Dashboard, SignedIn
from kurir.domain.errors import ValidationError
from kurir.domain.keys import check_key_label, new_api_key
from kurir.store import accounts

#: Key ids are row numbers; a longer text is no key's.
_MAX_ID_DIGITS = 18


async def list_page(dash: Dashboard, who: SignedIn) -> Response:
    return await _page(dash, who, created=None)


async def create(dash: Dashboard, who: SignedIn) -> Response:
    form = await dash.form(who)
    try:
        label = check_key_label(str(form.get("label", "")))
    except ValidationError as error:
        dash.notify(who, error.message, error=True)
        return RedirectResponse("/dashboard/keys", status_code=303)
    key = new_api_key()
    stored = await dash.api.store.write(
        accounts.create_api_key, account_id=who.account_id, key=key, label=label, now=now_ms()
    )
    return await _page(dash, who, created={"id": stored.id, "key": key, "label": label})


async def revoke(dash: Dashboard, who: SignedIn) -> Response:
    await dash.form(who)
    raw = who.request.path_params["key_id"]
    revoked = False
    if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_ID_DIGITS:
        revoked = await dash.api.store.write(
            accounts.revoke_api_key, account_id=who.account_id, key_id=int(raw), now=now_ms()
        )
    if revoked:
        dash.notify(who, f"key {raw} revoked; sessions signed in with it have ended")
    else:
        dash.notify(who, f"no active key {raw[:20]}", error=True)
    return RedirectResponse("/dashboard/keys", status_code=303)


async def _page(dash: Dashboard, who: SignedIn, created: dict[str, object] | None) -> Response:
    found = await dash.api.store.read(accounts.list_api_keys, account_id=who.account_id)
    keys = [
        {
            "id": key.id,
            "hint": key.hint,
            "label": key.label,
            "created": dash.api.iso(key.created_at),
            "revoked": dash.api.iso(key.revoked_at) if key.revoked_at else None,
        }
        for key in found
    ]
    return dash.page(who, "keys.html", keys=keys, created=created)


PAGES = [
    ("/dashboard/keys", "GET", list_page),
    ("/dashboard/keys", "POST", create),
    ("/dashboard/keys/{key_id}/revoke", "POST", revoke),
]
