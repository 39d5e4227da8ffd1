"""The worker's end of one session process: start it, ask it things, notice when it is gone.

A session that stops answering pings is hung (a Go deadlock, a stopped
process) and is killed; one that dies (a crash, ``kill -9``, a Go fatal
error) fails whatever it was asked with a transient error. Either way the
device's supervisor starts another.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping

from kurir.transports.whatsapp_web.protocol import (
    VERSION,
    Answer,
    Hello,
    Ping,
    ProtocolError,
    Ready,
    Stop,
    ToSession,
    ToWorker,
    decode_to_worker,
    encode_frame,
    read_frame,
)

log = logging.getLogger("kurir.whatsapp_web")

#: Starting Python and neonize takes about a second on a quiet machine.
READY_TIMEOUT_S = 30.0
PING_EVERY_S = 5.0
PING_TIMEOUT_S = 10.0
STOP_GRACE_S = 3.0


#: A session runs ``python -c _BOOT FD``: the session module, imported without the
#: ``__init__`` of ``kurir`` and its subpackages, which import all of Kurir (its
#: store, SQLAlchemy, every transport): seconds of CPU per (re)start and tens of
#: megabytes per device, for nothing a session uses.
_BOOT = """\
import importlib.util, os, sys, types
root = importlib.util.find_spec("kurir").submodule_search_locations[0]
for name in ("kurir", "kurir.transports", "kurir.transports.whatsapp_web"):
    package = types.ModuleType(name)
    package.__path__ = [os.path.join(root, *name.split(".")[1:])]
    sys.modules[name] = package
from kurir.transports.whatsapp_web.session import main
main(sys.argv[1:])
"""


class SessionGone(Exception):
    """The session process ended (or never answered); the message says how."""


class SessionProcess:
    """One running session: its process, its socket, and the requests awaiting answers."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_frame: Callable[[ToWorker], Awaitable[None]],
        on_answer: Callable[[Answer, object], None],
    ) -> None:
        self.process = process
        self.pid = process.pid
        self._reader = reader
        self._writer = writer
        self._on_frame = on_frame
        self._on_answer = on_answer
        self._numbers = itertools.count(1)
        self._waiting: dict[int, tuple[asyncio.Future[Answer], object]] = {}
        self._gone: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def start(
        cls,
        hello: Hello,
        *,
        env: Mapping[str, str],
        on_frame: Callable[[ToWorker], Awaitable[None]],
        on_answer: Callable[[Answer, object], None],
    ) -> "SessionProcess":
        """Start a session and greet it; SessionGone if it does not answer as this version."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _BOOT,
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                # neonize's Go side prints to stdout; logs go to stderr, the worker's.
                stdout=asyncio.subprocess.DEVNULL,
                env=dict(env),
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        session = cls(process, reader, writer, on_frame, on_answer)
        writer.write(encode_frame(hello))
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                body = await read_frame(reader)
            ready = decode_to_worker(body) if body is not None else None
        except (TimeoutError, ProtocolError, OSError) as error:
            ready = None
            why = f"{type(error).__name__}: {error}"
        else:
            why = "it ended before answering" if body is None else f"it answered {ready!r}"
        if not isinstance(ready, Ready) or ready.version != VERSION:
            await session.kill()
            raise SessionGone(f"the session did not start as protocol version {VERSION}: {why}")
        session._tasks = [
            asyncio.create_task(session._read(), name=f"whatsapp-web-read-{process.pid}"),
            asyncio.create_task(session._ping(), name=f"whatsapp-web-ping-{process.pid}"),
        ]
        return session

    @property
    def gone(self) -> str | None:
        """Why the session is gone, or None while it runs."""
        return self._gone

    async def request(self, make: Callable[[int], ToSession], tag: object = None) -> Answer:
        """Send the request ``make(number)``; its answer. ``tag`` goes to ``on_answer``."""
        if self._gone is not None:
            raise SessionGone(self._gone)
        number = next(self._numbers)
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[number] = (answer, tag)
        try:
            self._writer.write(encode_frame(make(number)))
            return await answer
        finally:
            self._waiting.pop(number, None)

    async def wait(self) -> int:
        code = await self.process.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return code

    async def stop(self) -> None:
        """Ask the session to end, and end it if it does not within a few seconds."""
        if self.process.returncode is None:
            with contextlib.suppress(OSError):
                self._writer.write(encode_frame(Stop()))
            try:
                async with asyncio.timeout(STOP_GRACE_S):
                    await self.process.wait()
            except TimeoutError:
                log.warning("session %d did not stop; killing it", self.pid)
        await self.kill()

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()
        if self._tasks:
            # What it said before it ended (a message flushed as it stopped) is
            # still in the socket: handled, unless that takes past the grace.
            await asyncio.wait(self._tasks[:1], timeout=STOP_GRACE_S)
        self._end(f"the session process ended (exit {self.process.returncode})")
        self._writer.close()
        for task in self._tasks:
            task.cancel()

    def _end(self, why: str) -> None:
        if self._gone is None:
            self._gone = why
        for answer, _tag in self._waiting.values():
            if not answer.done():
                answer.set_exception(SessionGone(self._gone))

    async def _read(self) -> None:
        """Hand each frame on in order; answers first settle their request."""
        why = "the session closed its end"
        try:
            while (body := await read_frame(self._reader)) is not None:
                frame = decode_to_worker(body)
                if isinstance(frame, Answer):
                    waiting = self._waiting.get(frame.request)
                    if waiting is not None and not waiting[0].done():
                        # Before the requester resumes: later frames (a receipt) may need it.
                        self._on_answer(frame, waiting[1])
                        waiting[0].set_result(frame)
                else:
                    await self._on_frame(frame)
        except ProtocolError as error:
            why = f"the session broke the protocol: {error}"
            log.error("session %d: %s", self.pid, why)
        except OSError as error:  # its end closed mid-read: it died
            why = f"the session's socket closed ({error})"
        finally:
            code = await self._exit_code()
            self._end(f"{why} (exit {code})" if code is not None else why)

    async def _exit_code(self) -> int | None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_S):
                return await self.process.wait()
        # Its end of the socket closed, yet it lives: it is of no use any more.
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        return await self.process.wait()

    async def _ping(self) -> None:
        while self._gone is None:
            await asyncio.sleep(PING_EVERY_S)
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    await self.request(lambda number: Ping(request=number))
            except TimeoutError:
                log.warning(
                    "session %d answered no ping for %gs: killing it", self.pid, PING_TIMEOUT_S
                )
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                return
            except SessionGone:
                return


def session_env(base: Mapping[str, str]) -> dict[str, str]:
    """The session's environment: the worker's, with neonize's bot tag off."""
    env = dict(base)
    # Else every 1:1 message carries <bot biz_bot="1"/>: an AI label for the recipient.
    env["NEONIZE_BOT_TAG"] = "off"
    return env


def worker_env() -> dict[str, str]:
    return session_env(os.environ)
