"""Shared pieces of the benchmarks: processes, databases, percentiles and tables.

Nothing here is a test. The benchmark scripts start real processes on
loopback (``kurir serve``, ``kurir worker``, the bare endpoint, the load
generator) and measure them from outside, as a client would.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
HOST = "127.0.0.1"
API_KEY = "bench-key-0123456789abcdef"
DEVICE_ID = "bench-device"
DEVICE_PHONE = "628122222222"

#: The machine's own PostgreSQL; each benchmark gets a database of its own, dropped after.
POSTGRES_ADMIN_URL = os.environ.get(
    "KURIR_BENCH_POSTGRES_URL",
    os.environ.get("KURIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine have used so far, in core-seconds (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def postgres_cpu_seconds() -> float:
    """CPU time used so far by the machine's live PostgreSQL processes."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        if text[text.find("(") + 1 : text.rfind(")")] == "postgres":
            fields = text.rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def code_version() -> str:
    """The commit measured, and whether the source differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes under src/)" if dirty else head


def core_split() -> tuple[int, int] | None:
    """A core for a server process and another for the load generator, if there are two.

    Left to the scheduler, a server's threads and the load generator share
    the two cores differently from run to run, and the same server measured
    twice landed on one of three throughputs 20 % apart. Pinned, each side
    has one core of its own, as "requests/s on one core" means.
    """
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else None


def pin_process(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` to ``core``; threads it starts later inherit it."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task.name), {core})


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Process:
    """A child process with its output in a log file, stopped with SIGTERM."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(list(argv), env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.popen.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.popen.returncode}; its log ends:\n{self.log()}"
            )

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


class ServerExited(RuntimeError):
    """A server process ended before it was ready (for one, its port was taken)."""


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a listening TCP socket on ``port``.

    Other jobs on a shared machine pick free ports too: between our choosing a
    port and our server binding it, another server can take it and answer
    our health check. Only a socket of our own process counts.
    """
    sockets = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    sockets.add(target[8:-1])
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            # State 0A is LISTEN; the local address ends in the port, in hex.
            if state == "0A" and int(local.rpartition(":")[2], 16) == port and inode in sockets:
                return True
    return False


class HttpServer(Process):
    """A server process that listens on ``port`` and answers ``GET /healthz`` once up."""

    def __init__(
        self, name: str, argv: Sequence[str], log_dir: Path, env: dict[str, str], port: int
    ) -> None:
        super().__init__(name, argv, log_dir, env)
        self.port = port

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        request = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ServerExited(
                    f"{self.name} exited with {self.popen.returncode}; its log ends:\n{self.log()}"
                )
            try:
                if listens_on(self.pid, self.port):
                    with socket.create_connection((HOST, self.port), timeout=1) as sock:
                        sock.sendall(request)
                        if sock.recv(64).startswith(b"HTTP/1.1 200"):
                            return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready; its log ends:\n{self.log()}")


def start_server(
    name: str, argv: Callable[[int], list[str]], log_dir: Path, env: Callable[[int], dict[str, str]]
) -> HttpServer:
    """A server on a free port; on another port if it could not start on the first."""
    for attempt in range(3):
        port = free_port()
        server = HttpServer(name, argv(port), log_dir, env(port), port)
        try:
            server.wait_ready()
        except ServerExited:
            if attempt == 2:
                raise
            progress(f"{name} could not start on port {port}; trying another")
            continue
        return server
    raise AssertionError("unreachable")


def kurir_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked Kurir process: fixed key and device, quiet logs."""
    return {
        **os.environ,
        "KURIR_DATABASE_URL": database_url,
        "KURIR_HOST": HOST,
        "KURIR_BOOTSTRAP_API_KEY": API_KEY,
        "KURIR_BOOTSTRAP_DEVICE_ID": DEVICE_ID,
        "KURIR_BOOTSTRAP_DEVICE_PHONE": DEVICE_PHONE,
        "KURIR_LOG_LEVEL": "warning",
        **extra,
    }


def start_kurir_serve(database_url: str, log_dir: Path, name: str) -> HttpServer:
    """``kurir serve --no-dispatch``: the accept path alone."""
    return start_server(
        name,
        lambda _port: [PYTHON, "-m", "kurir", "serve", "--no-dispatch"],
        log_dir,
        lambda port: kurir_env(database_url, KURIR_PORT=str(port)),
    )


def start_kurir_worker(database_url: str, log_dir: Path, name: str, **extra: str) -> Process:
    """``kurir worker``, with ``extra`` ``KURIR_*`` settings."""
    return Process(
        name, [PYTHON, "-m", "kurir", "worker"], log_dir, kurir_env(database_url, **extra)
    )


def start_bare(log_dir: Path, loop: str) -> HttpServer:
    """The do-nothing Starlette+msgspec endpoint, on uvicorn as Kurir is served."""
    return start_server(
        f"bare-{loop}",
        lambda port: [PYTHON, str(HERE / "bare_app.py"), "--port", str(port), "--loop", loop],
        log_dir,
        lambda _port: dict(os.environ),
    )


# -- PostgreSQL ----------------------------------------------------------------


async def _postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_unavailable_reason() -> str | None:
    """None when the benchmark PostgreSQL answers; otherwise why not."""
    try:
        asyncio.run(_postgres_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}"
    return None


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark; its URL. Dropped on exit."""
    name = f"kurir_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'kurir.db'}"


# -- figures -------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, int(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """A plain text table: the first ``left`` columns left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def least_disturbed(
    attempt: Callable[[int], T], disturbance: Callable[[T], float], retries: int, limit: float
) -> T:
    """Run ``attempt`` until other work disturbed it less than ``limit``; keep the best.

    On a shared machine another job can take the cores in the middle of a
    measurement. ``disturbance`` says how many cores other work used during
    one attempt; at most ``retries`` more attempts are made after a disturbed one.
    """
    best = attempt(0)
    for n in range(1, retries + 1):
        if disturbance(best) <= limit:
            break
        progress(f"other work used {disturbance(best):.2f} cores meanwhile; measuring again")
        again = attempt(n)
        if disturbance(again) < disturbance(best):
            best = again
    return best


def progress(message: str) -> None:
    """A line on stderr, so the figures on stdout stay a clean report."""
    print(f"... {message}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rss_megabytes(pid: int) -> float:
    """A live process's resident memory (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def sampling_rss(pid: int, into: list[float], every_s: float) -> Iterator[None]:
    """Append ``pid``'s resident memory to ``into`` every ``every_s`` while the block runs."""
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            into.append(rss_megabytes(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        into.append(rss_megabytes(pid))
