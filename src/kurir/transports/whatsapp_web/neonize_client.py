"""The real client: neonize's, as the session uses it. Imported only in a session process."""

import ctypes
from collections.abc import Callable
from typing import Any

from neonize.client import NewClient
from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps

from kurir.transports.whatsapp_web import wire


class KurirClient(NewClient):  # type: ignore[misc]  # neonize ships no type information
    """neonize's client, with the end of the QR channel reported instead of printed.

    neonize prints the login status (``success``, ``timeout``) to stdout; the
    session needs it to know that a pairing expired.
    """

    on_login_status: Callable[[str], None] = staticmethod(lambda status: None)

    # Replaces NewClient's private __onLoginStatus, which connect() hands to Go.
    def _NewClient__onLoginStatus(self, _uuid: int, status: int) -> None:
        self.on_login_status(ctypes.string_at(status).decode(errors="replace"))


def new_client(*, store: str, uuid: str, jid: str | None, new_device: bool) -> Any:
    """A client on the key store ``store``: resuming ``jid``, a new device, or the store's first."""
    return KurirClient(
        store,
        jid=wire.parse_jid(jid) if jid else None,
        props=DeviceProps(os="Kurir", platformType=DeviceProps.DESKTOP),
        uuid=uuid,
        new_device=new_device,
    )
