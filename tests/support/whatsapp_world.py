"""The tests' side of the fake WhatsApp: play the phone and the servers of each device.

See `tests.support.whatsapp_fake` for the client the session processes use.
"""

import base64
import hashlib
import json
import os
import secrets
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from tests.support import whatsapp_fake

T = TypeVar("T")

_REPO = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], T | None], within: float = 10.0, what: str = "it") -> T:
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within:g}s for {what}")
        time.sleep(0.05)


class FakePhone:
    """One device's phone and WhatsApp, as the fake client in its session sees them."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        (directory / "inbox").mkdir(parents=True, exist_ok=True)
        self._given: list[str] = []

    def _command(self, **command: Any) -> None:
        name = f"{time.time_ns()}-{secrets.token_hex(3)}"
        staged = self.dir / f".{name}.tmp"
        staged.write_text(json.dumps(command))
        staged.rename(self.dir / "inbox" / f"{name}.json")
        self._given.append(f"{name}.json")

    def _read(self, name: str) -> str | None:
        try:
            return (self.dir / name).read_text()
        except FileNotFoundError:
            return None

    def heard(self) -> bool:
        """Whether the fake has carried out every command given so far (it reads every 20 ms)."""
        return all((self.dir / "done" / name).exists() for name in self._given)

    def qr(self) -> str | None:
        return self._read("qr.txt")

    def pair_code(self) -> str | None:
        return self._read("pair_code.txt")

    def paired(self) -> bool:
        return (self.dir / "keys.json").exists()

    def scan(self, code: str, phone: str = "628122222222") -> None:
        self._command(op="scan", code=code, phone=phone)

    def sent(self) -> list[tuple[str, str, Any]]:
        """``(id, to, Message)`` of each send, in order."""
        text = self._read("sent.jsonl") or ""
        records = [json.loads(line) for line in text.splitlines() if line]
        return [
            (r["id"], r["to"], Message.FromString(base64.b64decode(r["message"]))) for r in records
        ]

    def send_inbound(
        self,
        sender: str,
        content: Any,
        *,
        name: str = "",
        lid: str | None = None,
        message_id: str | None = None,
    ) -> str:
        message_id = message_id or "3A" + secrets.token_hex(9).upper()
        self._command(
            op="message",
            sender=sender,
            id=message_id,
            name=name,
            lid=lid,
            content=base64.b64encode(content.SerializeToString()).decode(),
        )
        return message_id

    def host_file(self, data: bytes, *, hang: bool = False) -> bytes:
        """Put a file on WhatsApp's media servers; its SHA-256, which a message names it by.

        With ``hang``, downloading it never ends.
        """
        digest = hashlib.sha256(data).digest()
        media = self.dir / "media"
        media.mkdir(exist_ok=True)
        (media / digest.hex()).write_bytes(data)
        if hang:
            (media / f"{digest.hex()}.hang").touch()
        return digest

    def receipt(self, sender: str, ids: list[str], kind: str) -> None:
        self._command(op="receipt", sender=sender, ids=ids, kind=kind)

    def log_out(self) -> None:
        self._command(op="logout")

    def drop_connection(self) -> None:
        """The connection is lost and not regained (the session stays up, not connected)."""
        self._command(op="drop")

    def ban(self, seconds: int) -> None:
        self._command(op="ban", seconds=seconds)

    def fail_sends(self, error: str, count: int = 1) -> None:
        self._command(op="fail_sends", error=error, count=count)

    def crash(self) -> None:
        self._command(op="crash")

    def hang(self) -> None:
        self._command(op="hang")

    def crash_on_start(self, times: int) -> None:
        (self.dir / "crash_on_start").write_text(str(times))

    def not_on_whatsapp(self, *phones: str) -> None:
        (self.dir / "not_on_whatsapp.json").write_text(json.dumps(list(phones)))

    def pids(self) -> list[int]:
        return [int(line) for line in (self._read("pids") or "").split()]

    def kill_session(self) -> int:
        """SIGKILL the session process running now; its pid."""
        pid = self.pids()[-1]
        os.kill(pid, signal.SIGKILL)
        return pid


class FakeWhatsApp:
    """Every device's fake phone, under one directory."""

    def __init__(self, directory: Path, *, qr_seconds: float = 1.0, qr_count: int = 5) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.qr_seconds = qr_seconds
        self.qr_count = qr_count

    def env(self) -> dict[str, str]:
        """What a worker's environment needs for its sessions to use the fake."""
        path = os.environ.get("PYTHONPATH")
        return {
            "KURIR_WHATSAPP_WEB_CLIENT": whatsapp_fake.FACTORY,
            whatsapp_fake.WORLD_ENV: str(self.dir),
            whatsapp_fake.QR_SECONDS_ENV: str(self.qr_seconds),
            whatsapp_fake.QR_COUNT_ENV: str(self.qr_count),
            "PYTHONPATH": f"{_REPO}{os.pathsep}{path}" if path else str(_REPO),
        }

    def phone(self, device: str) -> FakePhone:
        return FakePhone(self.dir / device)
