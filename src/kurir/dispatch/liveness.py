"""Whether a worker's process still runs, asked of the kernel of the machine it ran on.

A worker that dies leaves leases behind, and from another machine a dead
worker looks like a stalled one until its leases run out. On its own machine
the kernel knows at once: a worker whose process is gone is dead, and its
leases can be taken back without waiting. After a ``kill -9`` and a restart of
a lone ``kurir serve`` that is the difference between a minute and a moment.

A process is named by its pid and its start time (a reused pid has another
one), within a host that is the machine's name, its boot and the pid
namespace: two workers see each other's pids only when all three match.
"""

import os
import socket
from pathlib import Path

from kurir.store.records import WorkerProcess

_PROC = Path("/proc")


def this_process() -> WorkerProcess | None:
    """This process, or None where /proc cannot tell (not Linux)."""
    try:
        boot_id = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        pid_namespace = os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return None
    started = _start_time(os.getpid())
    if started is None:
        return None
    # At most 64 + 1 + 36 + 1 + 16 characters: a Linux host name has at most 64.
    host = f"{socket.gethostname()} {boot_id} {pid_namespace}"
    return WorkerProcess(host=host, pid=os.getpid(), started=started)


def has_ended(process: WorkerProcess) -> bool:
    """Whether ``process``, of this host, is certainly no longer running.

    A process that exists but cannot be inspected (another user's, under a
    /proc mounted with ``hidepid``) counts as running.
    """
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    return _start_time(process.pid) not in (process.started, None)


def _start_time(pid: int) -> int | None:
    """When the process started, in clock ticks after boot; -1 for a zombie; None if unknown."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold ") ".
    fields = stat.rpartition(")")[2].split()
    if fields[0] in ("Z", "X"):  # dead, its parent has not reaped it yet
        return -1
    # starttime is field 22 of proc_pid_stat(5); the split starts at field 3.
    return int(fields[19])
