"""One device's WhatsApp Web session: a neonize client in a process of its own.

``python -m kurir.transports.whatsapp_web.session FD`` is started by the
worker that holds the device, with one end of a socket pair as ``FD``. It
answers the worker's `Hello` with `Ready`, connects, and from then on
carries out the worker's requests and reports what WhatsApp says, until the
worker says `Stop`, goes away, or the session has nothing left to do
(pairing expired, logged out). neonize's Go side cannot host two clients in
one process safely, may end the process with a fatal error, and leaves
threads that never end: so the process ends with ``os._exit`` and its worker
starts another when one is needed.

The client comes from a factory named by ``KURIR_WHATSAPP_WEB_CLIENT``
(``module:function``), by default neonize's own client. Tests name an
in-memory stand-in with the same surface there; nothing else differs.
"""

import asyncio
import contextlib
import ctypes
import importlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

from neonize.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.exc import NeonizeError
from neonize.proto.Neonize_pb2 import ConnectFailureReason, PairStatus, TemporaryBan

from kurir.transports.whatsapp_web import wire
from kurir.transports.whatsapp_web.downloads import InboundFiles
from kurir.transports.whatsapp_web.protocol import (
    VERSION,
    Answer,
    CheckNumbers,
    Hello,
    InboundSeen,
    LogOut,
    PairCode,
    Ping,
    QrCode,
    Ready,
    RequestPairCode,
    SendButtons,
    SendMedia,
    SendText,
    StateChange,
    Stop,
    ToSession,
    decode_to_session,
    encode_frame,
    read_frame,
)

CLIENT_FACTORY_ENV = "KURIR_WHATSAPP_WEB_CLIENT"
DEFAULT_CLIENT_FACTORY = "kurir.transports.whatsapp_web.neonize_client:new_client"

log = logging.getLogger("kurir.whatsapp_web.session")

#: Texts of whatsmeow's errors that trying again will not cure.
_PERMANENT = ("405", "406", "not-acceptable", "invalid jid", "not on whatsapp")

_LOGOUT_REASONS = {
    ConnectFailureReason.LOGGED_OUT,
    ConnectFailureReason.MAIN_DEVICE_GONE,
    ConnectFailureReason.UNKNOWN_LOGOUT,
}


def load_factory() -> Callable[..., Any]:
    target = os.environ.get(CLIENT_FACTORY_ENV) or DEFAULT_CLIENT_FACTORY
    module, _, name = target.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return factory


class Session:
    """The client of one device, and what it tells the worker."""

    def __init__(
        self, client: Any, hello: Hello, emit: Callable[[Any], None], finish: Callable[[], None]
    ) -> None:
        self.client = client
        self.jid = hello.jid
        self._pair_phone = hello.pair_phone
        self._emit = emit
        self._finish = finish
        # neonize's calls block; two at once let a pairing code or a ping-free
        # logout through while a send waits on WhatsApp.
        self._calls = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kurir-call")
        self._files = InboundFiles(
            client, limits=hello.media_limits, timeout_s=hello.download_timeout_s, emit=emit
        )

    def start(self) -> None:
        events = self.client.event
        events.qr(self._on_qr)
        events(PairStatusEv)(self._on_pair)
        events(ConnectedEv)(self._on_connected)
        events(KeepAliveRestoredEv)(self._on_connected)
        events(DisconnectedEv)(self._on_disconnected)
        events(KeepAliveTimeoutEv)(self._on_disconnected)
        events(LoggedOutEv)(self._on_logged_out)
        events(TemporaryBanEv)(self._on_banned)
        events(ConnectFailureEv)(self._on_connect_failure)
        events(StreamReplacedEv)(self._on_stream_replaced)
        events(ClientOutdatedEv)(self._on_outdated)
        events(MessageEv)(self._on_message)
        events(ReceiptEv)(self._on_receipt)
        self.client.on_login_status = self._on_login_status
        threading.Thread(target=self._connect, name="kurir-connect", daemon=True).start()

    def stop(self) -> None:
        self._files.flush()  # messages whose file is still coming are not lost with the session
        with contextlib.suppress(Exception):  # ending anyway: a failing stop changes nothing
            self.client.stop()

    def _connect(self) -> None:
        try:
            self.client.connect()
        except Exception as error:  # neonize raises its own and Go's texts alike
            self._emit(StateChange(state="error", detail=f"could not connect: {error}"))
        self._finish()

    # -- requests (from the worker) ---------------------------------------

    async def handle(self, command: ToSession) -> Answer | None:
        if isinstance(command, Ping):
            return Answer(request=command.request)
        call = self._call_for(command)
        if call is None:
            return None
        request: int = command.request  # type: ignore[union-attr]  # every call has one
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._calls, call)
        except NeonizeError as error:
            text = str(error) or type(error).__name__
            permanent = any(marker in text.lower() for marker in _PERMANENT)
            return Answer(request=request, error=text, permanent=permanent)
        except Exception as error:  # a bug or a Go error text: the worker retries
            return Answer(request=request, error=f"{type(error).__name__}: {error}")
        if isinstance(result, tuple):
            return Answer(request=request, values=result)
        return Answer(request=request, value=result)

    def _call_for(self, command: ToSession) -> Callable[[], Any] | None:
        match command:
            case SendText():
                return lambda: self._send(command.to, wire.text_message(command.text))
            case SendMedia():
                return lambda: self._send(command.to, self._media(command))
            case SendButtons():
                message = wire.native_buttons(
                    header=command.header,
                    body=command.body,
                    footer=command.footer,
                    labels=command.labels,
                )
                return lambda: self._send(command.to, message)
            case RequestPairCode():
                return lambda: self._pair_code(command.phone)
            case LogOut():
                return self._log_out
            case CheckNumbers():
                return lambda: self._check(command.phones)
        return None

    def _send(self, to: str, message: Any) -> str:
        response = self.client.send_message(wire.user_jid(to), message)
        return str(response.ID)

    def _media(self, command: SendMedia) -> Any:
        upload = self.client.upload(command.data, wire.UPLOAD_KINDS[command.media_type])
        thumbnail = wire.image_thumbnail(command.data) if command.media_type == "image" else None
        return wire.media_message(
            media_type=command.media_type,
            content_type=command.content_type,
            upload=upload,
            caption=command.caption,
            filename=command.filename,
            thumbnail=thumbnail,
        )

    def _pair_code(self, phone: str) -> str:
        from neonize.utils.enum import ClientName

        code = str(self.client.PairPhone(phone, True, ClientName.LINUX))
        self._emit(PairCode(code=code))
        return code

    def _log_out(self) -> None:
        self.client.logout()
        self._emit(StateChange(state="logged_out", detail="disconnected through Kurir"))
        self._finish()

    def _check(self, phones: tuple[str, ...]) -> tuple[str, ...]:
        found = self.client.is_on_whatsapp(*(f"+{phone}" for phone in phones))
        on = {str(item.JID.User) for item in found if item.IsIn}
        return tuple(phone for phone in phones if phone in on)

    # -- events (from neonize's threads) ----------------------------------

    def _on_qr(self, _client: Any, data: bytes) -> None:
        self._emit(QrCode(code=data.decode()))
        phone, self._pair_phone = self._pair_phone, None
        if phone is not None:
            # whatsmeow asks for the QR channel to be up before a pairing code.
            self._calls.submit(self._pair_code_or_error, phone)

    def _pair_code_or_error(self, phone: str) -> None:
        try:
            self._pair_code(phone)
        except Exception as error:  # reported, and the QR code stays usable
            self._emit(StateChange(state="error", detail=f"no pairing code: {error}"))

    def _on_login_status(self, status: str) -> None:
        # What whatsmeow's QR channel ends with: success, timeout, or an error.
        if status == "timeout":
            self._emit(StateChange(state="pairing_expired"))
            self._finish()
        elif status.startswith("err"):
            self._emit(StateChange(state="error", detail=f"pairing failed: {status}"))
            self._finish()

    def _on_pair(self, _client: Any, event: Any) -> None:
        if event.Status == PairStatus.SUCCESS:
            self.jid = wire.jid_text(event.ID)
            self._emit(StateChange(state="paired", jid=self.jid))
        else:
            self._emit(StateChange(state="error", detail=f"pairing failed: {event.Error}"))

    def _on_connected(self, _client: Any, _event: Any) -> None:
        self._emit(StateChange(state="connected", jid=self.jid))

    def _on_disconnected(self, _client: Any, _event: Any) -> None:
        self._emit(StateChange(state="disconnected"))

    def _on_logged_out(self, _client: Any, event: Any) -> None:
        reason = ConnectFailureReason.Name(event.Reason)
        self._emit(StateChange(state="logged_out", detail=reason))
        self._finish()

    def _on_banned(self, _client: Any, event: Any) -> None:
        until = int(time.time() * 1000) + int(event.Expire) * 1000
        self._emit(
            StateChange(
                state="banned", until=until, detail=TemporaryBan.TempBanReason.Name(event.Code)
            )
        )

    def _on_connect_failure(self, _client: Any, event: Any) -> None:
        reason = event.Reason
        if reason in _LOGOUT_REASONS:
            self._emit(StateChange(state="logged_out", detail=ConnectFailureReason.Name(reason)))
            self._finish()
        elif reason == ConnectFailureReason.TEMP_BANNED:
            self._emit(StateChange(state="banned", detail=event.Message or "TEMP_BANNED"))
        else:
            name = ConnectFailureReason.Name(reason)
            self._emit(StateChange(state="error", detail=f"connect failed: {name} {event.Message}"))

    def _on_stream_replaced(self, _client: Any, _event: Any) -> None:
        self._emit(StateChange(state="error", detail="another client took over this session"))
        self._finish()

    def _on_outdated(self, _client: Any, _event: Any) -> None:
        self._emit(StateChange(state="error", detail="WhatsApp calls this client outdated"))
        self._finish()

    def _on_message(self, _client: Any, event: Any) -> None:
        source = event.Info.MessageSource
        if source.IsFromMe or source.IsGroup:
            return  # what the linked phone sent, and groups: not Kurir's
        sender = wire.sender_phone(source)
        if sender is None:
            with contextlib.suppress(Exception):  # unknown: the message is skipped below
                sender = str(self.client.get_pn_from_lid(source.Sender).User) or None
        if sender is None:
            log.warning("message %s from %s: no phone number known", event.Info.ID, source.Sender)
            return
        frame = wire.read_message(event, sender)
        if frame is None:
            return
        if isinstance(frame, InboundSeen):
            self._files.report(frame, event.Message)
        else:
            self._emit(frame)

    def _on_receipt(self, _client: Any, event: Any) -> None:
        frame = wire.read_receipt(event)
        if frame is not None:
            self._emit(frame)


async def serve(sock: socket.socket) -> int:
    """Speak to the worker over ``sock`` until told to stop; the process's exit code."""
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    body = await read_frame(reader)
    hello = decode_to_session(body) if body is not None else None
    if not isinstance(hello, Hello) or hello.version != VERSION:
        log.error("the worker speaks another protocol (%r); this session speaks %d", hello, VERSION)
        return 3
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()

    def emit(frame: Any) -> None:
        loop.call_soon_threadsafe(writer.write, encode_frame(frame))

    def finish() -> None:
        loop.call_soon_threadsafe(finished.set)

    client = load_factory()(
        store=hello.store, uuid=hello.device, jid=hello.jid, new_device=hello.new_device
    )
    session = Session(client, hello, emit, finish)
    writer.write(encode_frame(Ready(version=VERSION, pid=os.getpid())))
    session.start()

    async def answer(command: ToSession) -> None:
        reply = await session.handle(command)
        if reply is not None:
            writer.write(encode_frame(reply))

    tasks: set[asyncio.Task[None]] = set()
    ended = asyncio.create_task(finished.wait())
    while True:
        next_frame = asyncio.create_task(read_frame(reader))
        await asyncio.wait({next_frame, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not next_frame.done():
            next_frame.cancel()
            break
        body = next_frame.result()
        if body is None:
            break  # the worker is gone
        command = decode_to_session(body)
        if isinstance(command, Stop):
            break
        task = asyncio.create_task(answer(command))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    session.stop()
    await asyncio.sleep(0)  # frames emitted by the last callbacks reach the writer
    with contextlib.suppress(Exception):  # the worker may be gone already
        await asyncio.wait_for(writer.drain(), 5)
    return 0


def _die_with_worker() -> None:
    """Linux ends this process when its worker dies, even if this one hangs in Go."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def main(argv: list[str]) -> NoReturn:
    _die_with_worker()
    logging.basicConfig(
        level=os.environ.get("KURIR_LOG_LEVEL", "info").upper(),
        format=f"%(asctime)s %(levelname)s whatsapp-web session {os.getpid()}: %(message)s",
    )
    sock = socket.socket(fileno=int(argv[0]))
    code = 1
    try:
        code = asyncio.run(serve(sock))
    except Exception:
        log.exception("the session failed")
    finally:
        sys.stderr.flush()
        # neonize's Go threads may never end: end the process regardless.
        os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
