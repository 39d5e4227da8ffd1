"""What every handler works with, handed to the transports' own routes too.

The core handlers (`kurir.api.routes`) and a transport's routes (the
sandbox's, a provider's inbound webhook) authenticate, read bodies, find
devices and answer the same way through this one object.
"""

from datetime import tzinfo

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from kurir.api.auth import Authenticator
from kurir.api.body import Fields, read_fields
from kurir.api.views import iso_time
from kurir.config import Settings
from kurir.domain.contacts import opt_out_words
from kurir.store import Store
from kurir.store.device_events import DeviceEvents
from kurir.store.records import Device

_ENCODER = msgspec.json.Encoder()
#: The scope key of an in-process request's account (see `ApiContext.account_id`).
DASHBOARD_ACCOUNT = "kurir.dashboard_account"


def ok(body: msgspec.Struct) -> Response:
    """A 200 with ``body`` as JSON."""
    return Response(_ENCODER.encode(body), media_type="application/json")


class ApiContext:
    """One API process's store, settings and authenticator."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.auth = Authenticator(store, settings.auth_cache_seconds)
        self.zone: tzinfo = settings.zone

    async def account_id(self, request: Request) -> int:
        """The calling account, or a 401.

        The dashboard calls the API in process for a signed-in session: it
        puts the session's account in the request's scope (`DASHBOARD_ACCOUNT`),
        which only code in this process can write; a request off the wire is
        authenticated by its key.
        """
        signed_in = request.scope.get(DASHBOARD_ACCOUNT)
        if isinstance(signed_in, int):
            return signed_in
        return await self.auth.account_id(request.headers.get("authorization"))

    async def device(self, account_id: int, public_id: str) -> Device:
        """The account's device, or a 404 exactly like a missing one."""
        return await self.auth.device(account_id, public_id)

    async def fields(self, request: Request) -> Fields:
        return await read_fields(request, self.settings.max_body_bytes)

    def events_for(self, device: Device) -> DeviceEvents:
        """The sink through which news of ``device`` is applied, as a worker's transport would."""
        return DeviceEvents(
            self.store,
            device_id=device.id,
            account_id=device.account_id,
            reply_window_ms=round(self.settings.reply_window_seconds * 1000),
            opt_out_words=opt_out_words(self.settings.opt_out_words),
        )

    def iso(self, ms: int) -> str:
        return iso_time(ms, self.zone)
