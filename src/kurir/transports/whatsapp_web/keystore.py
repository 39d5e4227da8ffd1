"""Where a device's WhatsApp Web keys live, and its pairing row, seen from the worker.

whatsmeow keeps a linked device's keys in SQL. With Kurir on SQLite each
device has a file of its own beside Kurir's database (sessions of several
devices never contend for one file's lock); with Kurir on PostgreSQL they
share whatsmeow's ``whatsmeow_*`` tables in Kurir's own database, and a
device is found there by its JID, so it moves between workers and machines
without pairing again.
"""

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url

from kurir.clock import now_ms
from kurir.store import Store
from kurir.transports.whatsapp_web import store as db


def key_location(database_url: str, device_id: int) -> tuple[str, bool]:
    """What neonize is given as its store for a device, and whether devices share it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        directory = Path(url.database or ".").resolve().parent / "whatsapp-web"
        return str(directory / f"device-{device_id}.db"), False
    query = dict(url.query)
    # whatsmeow's driver (lib/pq) insists on TLS unless told; libpq's default is to prefer it.
    query.setdefault("sslmode", "prefer")
    pq_url = url.set(drivername="postgres", query=query)
    return pq_url.render_as_string(hide_password=False), True


class KeyStore:
    """One device's key store and pairing row."""

    def __init__(self, store: Store, device_id: int) -> None:
        self._store = store
        self._device_id = device_id
        self.location, self.shared = key_location(store.database.url, device_id)
        #: The linked account as last read or written; None while unpaired.
        self.jid: str | None = None
        if not self.shared:
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)

    async def row(self) -> db.SessionRow:
        found = await self._store.read(db.session_row, device_id=self._device_id)
        if found is None:
            found = db.SessionRow(
                device_id=self._device_id,
                jid=None,
                pair_seq=0,
                served_seq=0,
                pair_phone=None,
                qr_code=None,
                qr_at=None,
                pair_code=None,
                pair_result=None,
                disconnect_seq=0,
                disconnected_seq=0,
                updated_at=0,
            )
        self.jid = found.jid
        return found

    async def serve_pairing(self, seq: int) -> None:
        await self._store.write(db.serve_pairing, device_id=self._device_id, seq=seq, now=now_ms())

    async def show_codes(
        self, seq: int, *, qr_code: str | None = None, pair_code: str | None = None
    ) -> None:
        await self._store.write(
            db.show_codes,
            device_id=self._device_id,
            seq=seq,
            now=now_ms(),
            qr_code=qr_code,
            pair_code=pair_code,
        )

    async def paired(self, jid: str | None) -> None:
        self.jid = jid
        await self._store.write(db.set_jid, device_id=self._device_id, jid=jid, now=now_ms())
        await self.end_pairing("paired")

    async def end_pairing(self, result: str) -> None:
        await self._store.write(
            db.end_pairing, device_id=self._device_id, result=result[:200], now=now_ms()
        )

    async def logged_out(self, detail: str) -> None:
        """The link is gone: whatsmeow deleted the device's keys; Kurir forgets its JID."""
        self.jid = None
        await self._store.write(db.set_jid, device_id=self._device_id, jid=None, now=now_ms())
        await self.end_pairing(f"logged out: {detail}")

    async def finish_disconnect(self, seq: int) -> None:
        self.jid = None
        await self._store.write(
            db.finish_disconnect, device_id=self._device_id, seq=seq, now=now_ms()
        )

    async def forget(self) -> None:
        """Delete the device's keys (never while its session runs).

        Its own file, or in a shared PostgreSQL store its rows, found by the
        JID last read or written: whatsmeow deletes them itself only when a
        connected session logs out, not for a device disconnected while its
        session was down, nor for a removed device.
        """
        if self.shared:
            if self.jid is not None:
                await self._store.write(db.forget_whatsmeow_device, jid=self.jid)
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            await asyncio.to_thread(Path(self.location + suffix).unlink, missing_ok=True)
