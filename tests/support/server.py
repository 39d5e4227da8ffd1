"""A real ``kurir serve`` (or ``kurir worker``) process on loopback, for tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class KurirProcess:
    """``python -m kurir <command>`` with a test environment; started and stopped by tests."""

    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        *,
        command: str = "serve",
        api_key: str = "test-key-0123456789",
        device_id: str = "dev-main",
        device_phone: str = "628122222222",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.database_url = database_url
        self.command = command
        self.api_key = api_key
        self.device_id = device_id
        self.device_phone = device_phone
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"kurir-{command}-{self.port}.log"
        self.args = args
        self.env = {
            **os.environ,
            "KURIR_DATABASE_URL": database_url,
            "KURIR_HOST": "127.0.0.1",
            "KURIR_PORT": str(self.port),
            "KURIR_BOOTSTRAP_API_KEY": api_key,
            "KURIR_BOOTSTRAP_DEVICE_ID": device_id,
            "KURIR_BOOTSTRAP_DEVICE_PHONE": device_phone,
            "KURIR_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> Self:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kurir", self.command, *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait and self.command == "serve":
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"kurir exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"kurir did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: a graceful shutdown. Returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def client(self, api_key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": api_key or self.api_key},
            timeout=10,
        )
