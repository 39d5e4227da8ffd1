"""A stand-in for neonize's client, so tests drive real session processes without WhatsApp.

A session process builds its client with the factory ``KURIR_WHATSAPP_WEB_CLIENT``
names; tests name `new_client` here. The fake has the surface the session
uses (``event``, ``connect``, ``send_message``, ``upload``, ``download_any``, ``PairPhone``,
``logout``, ``is_on_whatsapp``, ``stop``) and behaves as neonize does: it
generates message ids, raises neonize's own error types, hands QR codes to
the QR callback as bytes, again and again until the phone scans one or they
run out, and reports events through neonize's real ``Event.execute`` from a
thread of its own (receipts of every other send arrive before the send
returns). Events are serialised protobufs decoded by neonize itself.

Like whatsmeow, it keeps a paired device's keys in the store it was given:
a row of ``whatsmeow_device`` (and of its sessions) in the SQLite file, or
in PostgreSQL in whatsmeow's own tables, which the real neonize creates
offline; a logout deletes them, as whatsmeow's does.

Tests play the phone and WhatsApp's servers through a directory per device
(`FakeWhatsApp`): the fake writes what it sent and the codes it shows there,
and reads commands (scan, inbound messages, receipts, log out, ban, crash,
hang) that tests drop into its inbox.
"""

import asyncio
import base64
import contextlib
import ctypes
import hashlib
import json
import os
import secrets
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from neonize.client import ClientFactory
from neonize.events import Event
from neonize.exc import DownloadError, LogoutError, PairPhoneError, SendMessageError
from neonize.proto.Neonize_pb2 import (
    JID,
    Connected,
    Disconnected,
    IsOnWhatsAppResponse,
    LoggedOut,
    MessageInfo,
    MessageSource,
    PairStatus,
    Receipt,
    SendResponse,
    TemporaryBan,
    UploadResponse,
)
from neonize.proto.Neonize_pb2 import Message as MessageEvent
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

WORLD_ENV = "KURIR_FAKE_WHATSAPP_DIR"
QR_SECONDS_ENV = "KURIR_FAKE_WHATSAPP_QR_SECONDS"
QR_COUNT_ENV = "KURIR_FAKE_WHATSAPP_QR_COUNT"
FACTORY = "tests.support.whatsapp_fake:new_client"

_DOWNLOADABLE = (
    "imageMessage",
    "videoMessage",
    "audioMessage",
    "documentMessage",
    "stickerMessage",
)

# neonize's event codes (neonize.events.EVENT_TO_INT).
_PAIR, _CONNECTED, _LOGGED_OUT, _BANNED, _DISCONNECTED, _MESSAGE, _RECEIPT = 2, 3, 6, 8, 12, 17, 18


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> Any:
    return JID(User=user, RawAgent=0, Device=device, Integrator=0, Server=server, IsEmpty=False)


_EMPTY_JID = JID(User="", RawAgent=0, Device=0, Integrator=0, Server="", IsEmpty=True)


def message_event(
    sender: str, content: Any, *, message_id: str, name: str = "", lid: str | None = None
) -> Any:
    """A neonize ``Message`` event as whatsmeow's Go side encodes it (every required field)."""
    sender_jid = jid(lid, "lid") if lid else jid(sender)
    source = MessageSource(
        Chat=sender_jid,
        Sender=sender_jid,
        IsFromMe=False,
        IsGroup=False,
        SenderAlt=jid(sender) if lid else _EMPTY_JID,
        RecipientAlt=_EMPTY_JID,
        BroadcastListOwner=_EMPTY_JID,
    )
    info = MessageInfo(
        MessageSource=source,
        ID=message_id,
        ServerID=0,
        Type="text",
        Pushname=name,
        Timestamp=int(time.time() * 1000),
        Category="",
        Multicast=False,
        MediaType="",
        Edit="",
    )
    return MessageEvent(
        Info=info,
        Message=content,
        IsEphemeral=False,
        IsViewOnce=False,
        IsViewOnceV2=False,
        IsViewOnceV2Extension=False,
        IsDocumentWithCaption=False,
        IsLottieSticker=False,
        IsEdit=False,
        UnavailableRequestID="",
        RetryCount=0,
    )


def receipt_event(sender: str, ids: list[str], kind: str) -> Any:
    source = MessageSource(
        Chat=jid(sender),
        Sender=jid(sender),
        IsFromMe=False,
        IsGroup=False,
        SenderAlt=_EMPTY_JID,
        RecipientAlt=_EMPTY_JID,
        BroadcastListOwner=_EMPTY_JID,
    )
    kinds = {"delivered": Receipt.DELIVERED, "read": Receipt.READ, "played": Receipt.PLAYED}
    return Receipt(
        MessageSource=source, MessageIDs=ids, Timestamp=int(time.time()), Type=kinds[kind]
    )


class FakeClient:
    """One device's fake neonize client, living in its session process."""

    def __init__(self, *, store: str, uuid: str, jid_text: str | None, new_device: bool) -> None:
        self.store = store
        self.uuid = uuid
        self.requested_jid = jid_text
        self.event = Event(self)  # neonize's own: handlers and decoding are real
        self.on_login_status: Callable[[str], None] = lambda status: None
        self.dir = Path(os.environ[WORLD_ENV]) / uuid
        (self.dir / "inbox").mkdir(parents=True, exist_ok=True)
        with (self.dir / "pids").open("a") as pids:
            pids.write(f"{os.getpid()}\n")
        self._crash_if_told()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.logged_in = False
        self.qr: str | None = None
        self.pair_code: str | None = None
        self._fail_sends: list[str] = []
        self._sends = 0

    # -- the surface the session uses ------------------------------------

    def connect(self) -> None:
        keys = self._keys()
        if keys is not None and self.requested_jid in (None, keys["jid"]):
            self._connected()
        else:
            self._show_qr_codes()
        while not self._stop.wait(0.02):
            self._read_inbox()

    def stop(self) -> None:
        self._stop.set()

    def send_message(self, to: Any, message: Any) -> Any:
        if not self.logged_in:
            raise SendMessageError("websocket not connected")
        if message.HasField("buttonsMessage"):
            raise SendMessageError("server returned error 405")
        with self._lock:
            if self._fail_sends:
                raise SendMessageError(self._fail_sends.pop(0))
            self._sends += 1
            early = self._sends % 2 == 1
        message_id = "3EB0" + secrets.token_hex(8).upper()
        record = {
            "id": message_id,
            "to": to.User,
            "message": base64.b64encode(message.SerializeToString()).decode(),
        }
        with (self.dir / "sent.jsonl").open("a") as sent:
            sent.write(json.dumps(record) + "\n")
        receipt = receipt_event(to.User, [message_id], "delivered")
        if early:  # from another thread, before the send returns: out of order
            thread = threading.Thread(target=self._emit, args=(receipt, _RECEIPT))
            thread.start()
            thread.join()
        else:
            threading.Timer(0.05, self._emit, args=(receipt, _RECEIPT)).start()
        return SendResponse(ID=message_id, Timestamp=int(time.time()), ServerID=0)

    def upload(self, data: bytes, media_type: Any) -> Any:
        if not self.logged_in:
            raise SendMessageError("websocket not connected")
        digest = hashlib.sha256(data).digest()
        return UploadResponse(
            url=f"https://mmg.example/{digest.hex()[:16]}",
            DirectPath=f"/v/{digest.hex()[:16]}",
            Handle="",
            MediaKey=secrets.token_bytes(32),
            FileEncSHA256=hashlib.sha256(digest).digest(),
            FileSHA256=digest,
            FileLength=len(data),
        )

    def download_any(self, message: Any) -> bytes:
        """A file the phone's world hosts, found by its SHA-256, as whatsmeow's DownloadAny.

        Like whatsmeow, it looks for the file at the top of the message only.
        A file hosted with ``hang`` never arrives (the call blocks for good).
        """
        for field in _DOWNLOADABLE:
            if message.HasField(field):
                digest: str = getattr(message, field).fileSHA256.hex()
                break
        else:
            raise DownloadError("no downloadable media found in message")
        hosted = self.dir / "media" / digest
        if (self.dir / "media" / f"{digest}.hang").exists():
            threading.Event().wait()
        try:
            return hosted.read_bytes()
        except FileNotFoundError:
            raise DownloadError("download failed with status code 404") from None

    def PairPhone(self, phone: str, show_push: bool, client_name: Any = None) -> str:
        if self.logged_in:
            raise PairPhoneError("already logged in")
        if self.qr is None:
            raise PairPhoneError("the QR channel is not up yet")
        letters = "ABCDEFGHJKLMNPQRSTVWXYZ123456789"
        code = "".join(secrets.choice(letters) for _ in range(8))
        self.pair_code = f"{code[:4]}-{code[4:]}"
        (self.dir / "pair_code.txt").write_text(self.pair_code)
        return self.pair_code

    def logout(self) -> None:
        if not self.logged_in:
            raise LogoutError("not logged in")
        self.logged_in = False
        self._drop_keys()

    def is_on_whatsapp(self, *numbers: str) -> list[Any]:
        absent = set(json.loads(self._read("not_on_whatsapp.json") or "[]"))
        return [
            IsOnWhatsAppResponse(Query=n, JID=jid(n.lstrip("+")), IsIn=n.lstrip("+") not in absent)
            for n in numbers
        ]

    def get_pn_from_lid(self, lid: Any) -> Any:
        lids = json.loads(self._read("lids.json") or "{}")
        return jid(lids.get(lid.User, ""))

    # -- behaviour ---------------------------------------------------------

    def _keys(self) -> dict[str, str] | None:
        text = self._read("keys.json")
        return json.loads(text) if text else None

    def _read(self, name: str) -> str | None:
        try:
            return (self.dir / name).read_text()
        except FileNotFoundError:
            return None

    def _connected(self) -> None:
        self.logged_in = True
        self._emit(Connected(status=True), _CONNECTED)

    def _show_qr_codes(self) -> None:
        interval = float(os.environ.get(QR_SECONDS_ENV, "1"))
        for _ in range(int(os.environ.get(QR_COUNT_ENV, "5"))):
            self.qr = f"2@{secrets.token_urlsafe(30)},{secrets.token_urlsafe(32)},AQID"
            (self.dir / "qr.txt").write_text(self.qr)
            self.event._qr(self, self.qr.encode())  # as neonize hands it on: bytes
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                if self._stop.wait(0.02):
                    return
                self._read_inbox()
                if self.logged_in:
                    return
        (self.dir / "qr.txt").unlink(missing_ok=True)
        self.qr = None
        self.on_login_status("timeout")

    def _pair(self, phone: str) -> None:
        linked = f"{phone}:7@s.whatsapp.net"
        (self.dir / "keys.json").write_text(json.dumps({"jid": linked}))
        self._store_keys(linked)
        (self.dir / "qr.txt").unlink(missing_ok=True)
        self._emit(
            PairStatus(
                ID=jid(phone, device=7), BusinessName="", Platform="", Status=PairStatus.SUCCESS
            ),
            _PAIR,
        )
        self._connected()

    def _store_keys(self, linked: str) -> None:
        """Keep a device row and a session row of ``linked`` where whatsmeow would."""
        if "://" not in self.store:
            with contextlib.closing(sqlite3.connect(self.store)) as db, db:
                for statement in _SQLITE_KEYS:
                    db.execute(statement, (linked,) if "?" in statement else ())
            return
        ClientFactory.get_all_devices_from_db(self.store)  # whatsmeow makes its tables

        async def insert() -> None:
            connection = await asyncpg.connect(self.store.split("?")[0])
            try:
                for statement in _POSTGRES_KEYS:
                    keys = (bytes(32), bytes(64)) if "$3" in statement else (bytes(32),)
                    await connection.execute(statement, linked, *keys)
            finally:
                await connection.close()

        asyncio.run(insert())

    def _drop_keys(self) -> None:
        (self.dir / "keys.json").unlink(missing_ok=True)
        linked = self.requested_jid
        if "://" not in self.store:
            Path(self.store).unlink(missing_ok=True)
        elif linked is not None:

            async def delete() -> None:
                connection = await asyncpg.connect(self.store.split("?")[0])
                try:
                    await connection.execute("DELETE FROM whatsmeow_device WHERE jid = $1", linked)
                finally:
                    await connection.close()

            asyncio.run(delete())

    def _read_inbox(self) -> None:
        inbox = self.dir / "inbox"
        for path in sorted(inbox.glob("*.json")):
            command = json.loads(path.read_text())
            path.unlink()  # first: a crash or a hang it orders must not be obeyed again
            self._obey(command)
            (self.dir / "done").mkdir(exist_ok=True)
            (self.dir / "done" / path.name).touch()

    def _obey(self, command: dict[str, Any]) -> None:
        op = command["op"]
        if op == "scan" and command["code"] in (self.qr, self.pair_code):
            self._pair(command["phone"])
        elif op == "message":
            content = Message.FromString(base64.b64decode(command["content"]))
            event = message_event(
                command["sender"],
                content,
                message_id=command["id"],
                name=command.get("name", ""),
                lid=command.get("lid"),
            )
            self._emit(event, _MESSAGE)
        elif op == "receipt":
            self._emit(receipt_event(command["sender"], command["ids"], command["kind"]), _RECEIPT)
        elif op == "logout":  # the phone removed the link
            self.logged_in = False
            self._drop_keys()
            self._emit(LoggedOut(OnConnect=False, Reason=2), _LOGGED_OUT)
        elif op == "ban":
            self._emit(TemporaryBan(Code=1, Expire=command["seconds"]), _BANNED)
        elif op == "disconnect":
            self._emit(Disconnected(status=True), _DISCONNECTED)
            time.sleep(0.1)
            self._emit(Connected(status=True), _CONNECTED)
        elif op == "drop":  # the connection is lost and stays lost
            self.logged_in = False
            self._emit(Disconnected(status=True), _DISCONNECTED)
        elif op == "fail_sends":
            with self._lock:
                self._fail_sends.extend([command["error"]] * command["count"])
        elif op == "crash":  # as Go's runtime ends a process: no Python cleanup
            sys.stderr.write("fatal error: concurrent map read and map write\n")
            sys.stderr.flush()
            os._exit(2)
        elif op == "hang":
            os.kill(os.getpid(), signal.SIGSTOP)

    def _crash_if_told(self) -> None:
        counter = self.dir / "crash_on_start"
        left = int(self._read("crash_on_start") or "0")
        if left > 0:
            counter.write_text(str(left - 1))
            os._exit(2)

    def _emit(self, event: Any, code: int) -> None:
        data = event.SerializeToString()
        buffer = ctypes.create_string_buffer(data, len(data))
        self.event.execute(0, ctypes.addressof(buffer), len(data), code)


_SQLITE_KEYS = (
    "CREATE TABLE IF NOT EXISTS whatsmeow_device (jid TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS whatsmeow_sessions (our_jid TEXT, their_id TEXT, session BLOB)",
    "INSERT OR REPLACE INTO whatsmeow_device (jid) VALUES (?)",
    "INSERT INTO whatsmeow_sessions VALUES (?, '628111111111', x'00')",
)
#: Each statement takes the JID as $1, and keys of 32 bytes as $2 and 64 as $3,
#: the lengths whatsmeow's table checks.
_POSTGRES_KEYS = (
    "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key,"
    " signed_pre_key, signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details,"
    " adv_account_sig, adv_account_sig_key, adv_device_sig, platform)"
    " VALUES ($1, 1, $2, $2, $2, 1, $3, $2, $2, $3, $2, $3, 'fake') ON CONFLICT (jid) DO NOTHING",
    "INSERT INTO whatsmeow_sessions (our_jid, their_id, session)"
    " VALUES ($1, '628111111111', $2) ON CONFLICT DO NOTHING",
    "INSERT INTO whatsmeow_privacy_tokens (our_jid, their_jid, token, timestamp)"
    " VALUES ($1, '628111111111@s.whatsapp.net', $2, 1) ON CONFLICT DO NOTHING",
)


def new_client(*, store: str, uuid: str, jid: str | None, new_device: bool) -> FakeClient:
    return FakeClient(store=store, uuid=uuid, jid_text=jid, new_device=new_device)
