"""``make run`` in a fresh clone, as a new user runs it first.

The repository's committed HEAD is cloned into a temporary folder (what is not
committed is not tested) and ``make run`` sets it up from nothing: the
install must show that it is under way, install nothing but what running
needs, print the key, and serve the API. It is slow (a real install into a new
virtual environment, pip's cache allowed), so it is marked: ``-m "not slow"``
skips it.
"""

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.e2e.test_bootstrap import Banner
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
#: An install takes about 30 s here; the bound allows for a busy machine.
FIRST_RUN_TIMEOUT_S = 120.0
#: The first line must come before the install ends: that is the point.
FIRST_LINE_WITHIN_S = 10.0
DEV_TOOLS = ("ruff", "mypy", "pytest")


class Output:
    """A process's output lines, read as they come, with when each came."""

    def __init__(self, process: "subprocess.Popen[str]") -> None:
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append((time.monotonic() - self.started, line))

    @property
    def text(self) -> str:
        return "".join(line for _, line in self.lines)

    def first_at(self, fragment: str) -> float | None:
        """When the first line holding ``fragment`` came, in seconds from the start."""
        return next((at for at, line in self.lines if fragment in line), None)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("needs git and make")
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout")
    target = tmp_path / "kurir"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=60)
    return target


def _user_environment(port: int) -> dict[str, str]:
    """This environment as a user's shell would have it: no Kurir settings but the port.

    Nothing of the test run leaks in: not make's flags (``make test`` runs this
    test), and no PYTHONPATH that could load this checkout instead of the clone.
    """
    skipped = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("KURIR_") and name not in skipped
    }
    env["KURIR_PORT"] = str(port)
    return env


@pytest.fixture
def make_run(clone: Path) -> Iterator[tuple[subprocess.Popen[str], Output, int]]:
    """``make run`` in the clone on a free port; stopped (make and kurir) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=_user_environment(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: make and the server it starts
    )
    try:
        yield process, Output(process), port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_make_run_from_a_fresh_clone(
    clone: Path, make_run: tuple[subprocess.Popen[str], Output, int]
) -> None:
    process, output, port = make_run
    deadline = time.monotonic() + FIRST_RUN_TIMEOUT_S
    while not ("API key:" in output.text and _healthy(port)):
        assert process.poll() is None, f"make run exited with {process.returncode}:\n{output.text}"
        assert time.monotonic() < deadline, (
            f"not serving in {FIRST_RUN_TIMEOUT_S} s:\n{output.text}"
        )
        time.sleep(0.2)
    log = output.text

    # Progress: a line at once, each step named, and pip's own lines while it works.
    first_line = output.lines[0][0]
    assert first_line < FIRST_LINE_WITHIN_S, log
    assert "==> installing Kurir" in log
    installed, key = output.first_at("Successfully installed"), output.first_at("API key:")
    assert installed is not None, log
    assert key is not None
    assert first_line < installed < key
    assert "created the schema at revision" in log

    # Only what running needs.
    bin_dir = clone / ".venv" / "bin"
    assert (bin_dir / "kurir").exists()
    assert [tool for tool in DEV_TOOLS if (bin_dir / tool).exists()] == []

    # The printed key and curl command work against the server it started.
    banner = Banner(log)
    assert banner.url == f"http://127.0.0.1:{port}/send/button"
    assert banner.send().status_code == 200

    # The README's .venv/bin/kurir, in the clone, finds the same database.
    listed = subprocess.run(
        [str(bin_dir / "kurir"), "accounts", "list"],
        cwd=clone,
        env=_user_environment(port),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:2] == ["1", "default"]
    assert f"{clone.resolve() / 'data' / 'kurir.db'}" in listed.stderr

    # Installed once: a second make run installs nothing, make test adds only the dev extra.
    again = _dry_run(clone, "run")
    assert "pip" not in again
    dev = _dry_run(clone, ".venv/.installed")
    assert [line for line in dev.splitlines() if "pip install" in line] == [
        ".venv/bin/python -m pip install -e '.[dev]'"
    ]


def _dry_run(clone: Path, target: str) -> str:
    """What ``make TARGET`` would run now (``make -n``)."""
    result = subprocess.run(
        ["make", "-n", target],
        cwd=clone,
        env=_user_environment(free_port()),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout
