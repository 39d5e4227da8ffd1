"""A device's session, kept running by the worker that holds the device.

The supervisor starts a session process when there is something for it to
do (the device is paired, or a pairing was asked for), restarts it with
backoff when it dies, and turns what it reports into the device's state,
pairing codes in the database, receipts, replies and inbound messages.
Pairing and disconnect requests reach it through the database (see
`kurir.transports.whatsapp_web.store`), which `RequestWatcher` reads for all
of a worker's devices at once.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

from kurir.clock import now_ms, to_datetime
from kurir.domain.content import WHATSAPP_LIMITS
from kurir.transports.base import TransientSendError, TransportContext
from kurir.transports.whatsapp_web import store as db
from kurir.transports.whatsapp_web.events import FrameHandler
from kurir.transports.whatsapp_web.keystore import KeyStore
from kurir.transports.whatsapp_web.layout import DeviceState, banned, error
from kurir.transports.whatsapp_web.process import SessionGone, SessionProcess, worker_env
from kurir.transports.whatsapp_web.protocol import (
    VERSION,
    Answer,
    CheckNumbers,
    Hello,
    LogOut,
    PairCode,
    QrCode,
    RequestPairCode,
    StateChange,
    ToSession,
    ToWorker,
)

log = logging.getLogger("kurir.whatsapp_web")

#: Restarts wait 0.5 s, 1 s, 2 s, … up to this; a session that ran this long starts afresh.
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
#: How long a send waits for a paired device's session to (re)connect.
CONNECT_WAIT_S = 15.0
LOGOUT_WAIT_S = 15.0
#: How many numbers one question to WhatsApp carries.
CHECK_BATCH = 50
#: The largest inbound file kept, by type: what WhatsApp lets a sender send,
#: as Kurir's own limits say (a sticker is a small image).
INBOUND_MEDIA_LIMITS = {
    "image": WHATSAPP_LIMITS.max_image_bytes,
    "sticker": WHATSAPP_LIMITS.max_image_bytes,
    "video": WHATSAPP_LIMITS.max_video_bytes,
    "audio": WHATSAPP_LIMITS.max_audio_bytes,
    "document": WHATSAPP_LIMITS.max_document_bytes,
}
#: How long the session waits for one inbound file before reporting the message without it.
DOWNLOAD_TIMEOUT_S = 60.0


class DeviceSession:
    """Keeps one device's session running while the worker holds the device."""

    def __init__(self, context: TransportContext, keys: KeyStore) -> None:
        self.context = context
        self.device = context.device
        self.keys = keys
        self.handler = FrameHandler(context)
        self.state: str | None = None
        self.connected = asyncio.Event()
        self.process: SessionProcess | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._pair_seq = 0
        self._ended_by_itself = False
        self._task: asyncio.Task[None] | None = None
        #: Set (and replaced) each time a session ends against the device's will.
        self._failed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"whatsapp-web-{self.device.public_id}")

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self.process is not None:
            await self.process.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # -- sending -------------------------------------------------------------

    async def request(self, make: Callable[[int], ToSession], tag: object = None) -> Answer:
        """Ask the connected session; a TransientSendError while it cannot be asked."""
        if not self.connected.is_set():
            waiting = self.state in (None, DeviceState.DISCONNECTED) or (
                self.state or ""
            ).startswith(DeviceState.ERROR)
            if not waiting or self.keys.jid is None:
                raise TransientSendError(f"device {self.device.public_id} is {self.state}")
            # Until it connects, or the session starting now fails too.
            waits = {
                asyncio.create_task(self.connected.wait()),
                asyncio.create_task(self._failed.wait()),
            }
            try:
                await asyncio.wait(
                    waits, timeout=CONNECT_WAIT_S, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for task in waits:
                    task.cancel()
        process = self.process
        if process is None or not self.connected.is_set():
            raise TransientSendError(
                f"device {self.device.public_id} is {self.state or 'not connected'}"
            )
        try:
            return await process.request(make, tag)
        except SessionGone as gone:
            raise TransientSendError(
                f"WhatsApp Web session ended during the send: {gone}"
            ) from None

    # -- the loop ------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            self._wake.clear()
            row = await self.keys.row()
            if row.disconnect_requested:
                await self._disconnect(row.disconnect_seq)
                continue
            if row.jid is None and not row.pairing_requested:
                if self.state != DeviceState.LOGGED_OUT:
                    await self._report(DeviceState.UNPAIRED)
                await self._wake.wait()
                continue
            pair_phone = None
            if row.jid is None:
                self._pair_seq = row.pair_seq
                pair_phone = row.pair_phone
                await self.keys.serve_pairing(row.pair_seq)
                await self.keys.forget()  # a pairing starts from an empty key store
                await self._report(DeviceState.PAIRING)
            started = time.monotonic()
            why = await self._run_once(row.jid, pair_phone)
            if self._closing:
                return
            if self._ended_by_itself:
                failures = 0
                continue
            self._failed.set()
            self._failed = asyncio.Event()
            failures = 0 if time.monotonic() - started > STABLE_AFTER_S else failures + 1
            delay = min(MAX_BACKOFF_S, 0.5 * 2 ** (failures - 1))
            log.warning(
                "device %s: %s; restarting its session in %.1fs", self.device.public_id, why, delay
            )
            await self._report(
                DeviceState.DISCONNECTED if self.keys.jid is not None else error(why)
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _run_once(self, jid: str | None, pair_phone: str | None) -> str:
        """Run one session process to its end; why it ended."""
        self._ended_by_itself = False
        hello = Hello(
            version=VERSION,
            device=self.device.public_id,
            store=self.keys.location,
            jid=jid,
            new_device=jid is None and self.keys.shared,
            pair_phone=pair_phone,
            media_limits=INBOUND_MEDIA_LIMITS,
            download_timeout_s=DOWNLOAD_TIMEOUT_S,
        )
        try:
            process = await SessionProcess.start(
                hello, env=worker_env(), on_frame=self._on_frame, on_answer=self.handler.on_answer
            )
        except (SessionGone, OSError) as gone:
            return str(gone)
        self.process = process
        try:
            while process.process.returncode is None:
                waiter = asyncio.create_task(process.wait())
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait({waiter, woken}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if not waiter.done():
                    waiter.cancel()
                    self._wake.clear()
                    await self._serve_requests(process)
            return process.gone or f"the session process ended (exit {process.process.returncode})"
        finally:
            self.process = None
            self.connected.clear()
            await process.kill()

    async def _serve_requests(self, process: SessionProcess) -> None:
        """A request arrived while the session runs: a disconnect, a pairing code, checks."""
        if self._closing:
            await process.stop()
            return
        row = await self.keys.row()
        if row.disconnect_requested:
            with contextlib.suppress(SessionGone, TimeoutError):
                async with asyncio.timeout(LOGOUT_WAIT_S):
                    if self.connected.is_set():
                        await process.request(lambda number: LogOut(request=number))
            self._ended_by_itself = True  # the loop forgets the keys next, without backoff
            await process.stop()
            return
        if row.pairing_requested and self.keys.jid is None:
            # Pairing already runs: the new request takes over its codes.
            self._pair_seq = row.pair_seq
            await self.keys.serve_pairing(row.pair_seq)
            if row.pair_phone is not None:
                phone = row.pair_phone
                with contextlib.suppress(SessionGone):
                    answer = await process.request(
                        lambda number: RequestPairCode(request=number, phone=phone)
                    )
                    if answer.error is not None:
                        await self._report(error(f"no pairing code: {answer.error}"))
        if self.connected.is_set():
            with contextlib.suppress(SessionGone):
                await self._serve_checks(process)

    async def _serve_checks(self, process: SessionProcess) -> None:
        """Ask WhatsApp about the numbers POST /check-numbers asked for, and write its answers."""
        store, device_id = self.context.store, self.device.id
        asked = await store.read(db.checks_asked, device_id=device_id)
        for start in range(0, len(asked), CHECK_BATCH):
            batch = tuple(asked[start : start + CHECK_BATCH])
            answer = await process.request(functools.partial(_check, phones=batch))
            if answer.error is not None:
                # Left asked for: the next wake (a new request, a reconnect) tries again.
                log.warning(
                    "device %s: checking numbers failed: %s", self.device.public_id, answer.error
                )
                return
            found = {phone: phone in answer.values for phone in batch}
            await store.write(db.remember_numbers, device_id=device_id, found=found, now=now_ms())

    async def _disconnect(self, seq: int) -> None:
        """Log out where the session runs, and forget its keys in any case."""
        await self.keys.forget()
        self.connected.clear()
        # The state first: POST /device/disconnect answers with it once the request is done.
        await self._report(DeviceState.UNPAIRED)
        await self.keys.finish_disconnect(seq)

    # -- what the session says ---------------------------------------------

    async def _on_frame(self, frame: ToWorker) -> None:
        match frame:
            case QrCode(code=code):
                await self.keys.show_codes(self._pair_seq, qr_code=code)
                await self._report(DeviceState.PAIRING)
            case PairCode(code=code):
                await self.keys.show_codes(self._pair_seq, pair_code=code)
            case StateChange():
                await self._on_state(frame)
            case _:
                await self.handler.handle(frame)

    async def _on_state(self, change: StateChange) -> None:
        match change.state:
            case "paired":
                await self.keys.paired(change.jid)
            case "connected":
                if change.jid is not None and change.jid != self.keys.jid:
                    await self.keys.paired(change.jid)
                self.connected.set()
                await self._report(DeviceState.CONNECTED)
                self._wake.set()  # checks asked for while it was down are served now
            case "disconnected":
                self.connected.clear()
                await self._report(DeviceState.DISCONNECTED)
            case "pairing_expired":
                self._ended_by_itself = True
                await self.keys.end_pairing("expired")
                await self._report(DeviceState.UNPAIRED)
            case "logged_out":
                self._ended_by_itself = True
                self.connected.clear()
                await self.keys.logged_out(change.detail or "logged out")
                await self._report(DeviceState.LOGGED_OUT)
            case "banned":
                self.connected.clear()
                until = to_datetime(change.until or now_ms()).isoformat(timespec="seconds")
                await self._report(banned(until, change.detail or "temporary ban"))
            case _:
                await self._report(error(change.detail or change.state))

    async def _report(self, state: str) -> None:
        if state != self.state:
            self.state = state
            with contextlib.suppress(Exception):  # a state is news, not worth stopping for
                await self.context.events.device_state(state[:200])


def _check(number: int, *, phones: tuple[str, ...]) -> CheckNumbers:
    return CheckNumbers(request=number, phones=phones)
