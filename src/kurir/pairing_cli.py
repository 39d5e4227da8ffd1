"""``kurir devices pair``: link a WhatsApp Web device from a terminal, through the HTTP API.

The QR code is drawn in the terminal and redrawn each time WhatsApp
replaces it, until the phone has scanned one or the pairing expires; with
``--code`` the pairing code is printed instead, to type on the phone.
"""

import sys
import time

import segno

from kurir.api.types import PairingResponse
from kurir.client import Client

#: How often the pairing is looked at while waiting for the phone.
_POLL_S = 1.0
#: WhatsApp shows codes for about three minutes; a little longer, then give up.
_GIVE_UP_S = 240.0


def pair(client: Client, device: str, *, code: bool, phone: str | None) -> bool:
    """Pair ``device``, showing what the phone needs; whether it got paired."""
    shown = client.pair_by_code(device, phone) if code else client.start_pairing(device)
    if shown.message:
        print(shown.message, file=sys.stderr)
    drawn: str | None = None
    deadline = time.monotonic() + _GIVE_UP_S
    while time.monotonic() < deadline:
        if shown.state == "connected":
            print(f"device {device} is paired and connected")
            return True
        if shown.last_result not in (None, "paired") and shown.qr is None and not shown.pair_code:
            print(f"pairing ended: {shown.last_result}", file=sys.stderr)
            return False
        drawn = _show(shown, drawn, code=code)
        time.sleep(_POLL_S)
        shown = client.pairing(device)
    print("gave up waiting for the phone", file=sys.stderr)
    return False


def _show(shown: PairingResponse, drawn: str | None, *, code: bool) -> str | None:
    """Show the code the phone needs if it changed; what is shown now."""
    now = shown.pair_code if code else shown.qr
    if now is None or now == drawn:
        return drawn
    if code:
        print(f"on the phone: WhatsApp > Linked devices > Link with phone number, then type {now}")
    else:
        print("on the phone: WhatsApp > Linked devices > Link a device, then scan:")
        segno.make_qr(now).terminal(compact=True)
    sys.stdout.flush()
    return now
