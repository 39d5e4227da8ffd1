"""``kurir`` run as a user runs it: commands and servers as subprocesses of their own."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.databases import sqlite_url
from tests.support.server import KurirProcess

#: A generous bound for one command; a hung command fails the test instead of the run.
COMMAND_TIMEOUT_S = 30.0


def kurir_env(database_url: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any KURIR_* that leaked in, plus ``env``."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("KURIR_")}
    if database_url is not None:
        clean["KURIR_DATABASE_URL"] = database_url
    clean["KURIR_LOG_LEVEL"] = "warning"
    return {**clean, **(env or {})}


def run_kurir_all(
    commands: Sequence[Sequence[str]],
    *,
    database_url: str | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands, all started at once (in ``cwd``); their results in order.

    A command is mostly a Python start (~0.6 s): running a batch side by side
    keeps the suite fast. Only for commands that may run in any order.
    """
    environment = kurir_env(database_url, env)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "kurir", *args],
            env=environment,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\n(killed after {COMMAND_TIMEOUT_S} s)"
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def run_kurir(
    *args: str,
    database_url: str | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``kurir ARGS...`` with ``KURIR_DATABASE_URL`` (unless None) and ``env`` set."""
    return run_kurir_all([args], database_url=database_url, env=env, cwd=cwd)[0]


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The command's stdout, after checking that it succeeded quietly."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def assert_refused(result: subprocess.CompletedProcess[str], message: str, *, code: int) -> None:
    """Refused with exit ``code`` and ``kurir: <message>`` on stderr: no traceback, no output."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    assert f"kurir: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""


#: A command line, the exit code it must end with, and the message it must print.
Refusal = tuple[Sequence[str], int, str]


def assert_all_refused(
    cases: Sequence[Refusal],
    *,
    database_url: str | None,
    env: Mapping[str, str] | None = None,
    alongside: Sequence[Sequence[str]] = (),
    cwd: Path | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Run every case side by side; each must be refused as it says.

    The ``alongside`` commands run in the same batch; their results are returned.
    """
    commands = [*alongside, *(args for args, _, _ in cases)]
    results = run_kurir_all(commands, database_url=database_url, env=env, cwd=cwd)
    for (_, code, message), result in zip(cases, results[len(alongside) :], strict=True):
        assert_refused(result, message, code=code)
    return results[: len(alongside)]


def jakarta_schedule(ahead: timedelta) -> str:
    """A schedule as Alat WA clients write it: ``Y-m-d H:i:s`` in Asia/Jakarta (the default)."""
    return (datetime.now(ZoneInfo("Asia/Jakarta")) + ahead).strftime("%Y-%m-%d %H:%M:%S")


def wait_until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail if it does not within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.02)


@contextmanager
def sqlite_server(
    directory: Path, env: dict[str, str] | None = None, *, args: tuple[str, ...] = ()
) -> Iterator[KurirProcess]:
    """``kurir serve`` (with ``args``) on a new SQLite database in ``directory``, to share.

    Where the backend does not matter and each test makes data of its own,
    one server saves a start (about a second) per test.
    """
    process = KurirProcess(sqlite_url(directory), directory, env=env, args=args).start()
    try:
        yield process
    finally:
        process.stop()


def api_env(server: KurirProcess, api_key: str) -> dict[str, str]:
    """The environment that points the kurir command's API commands at ``server``."""
    return {"KURIR_URL": server.base_url, "KURIR_API_KEY": api_key}


def add_flaky_device(database_url: str, env: Mapping[str, str] | None = None) -> None:
    """Add ``flaky`` to the default account: a sandbox device whose first attempt fails."""
    succeeded(
        run_kurir(
            "devices",
            "add",
            "--account",
            "default",
            "--id",
            "flaky",
            "--phone",
            "628133333333",
            "--config",
            '{"fail_attempts": 1}',
            database_url=database_url,
            env=env,
        )
    )
