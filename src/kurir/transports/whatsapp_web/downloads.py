"""Inbound files, downloaded by the session as their messages arrive, within bounds.

WhatsApp keeps a file a recipient sends encrypted on its media servers,
readable only with the key in the message: the session downloads and
decrypts it through neonize, and the worker keeps it for the application.
Downloads are bounded in size (what the sender declares, then what came)
and in time; neonize's download is a Go call that cannot be interrupted, so
one that overruns is left to its thread and the message is reported without
its file. Imported only by the session process.
"""

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import msgspec

from kurir.transports.whatsapp_web import wire
from kurir.transports.whatsapp_web.protocol import InboundSeen

log = logging.getLogger("kurir.whatsapp_web.session")


class InboundFiles:
    """Reports inbound messages, with their files when they download in bounds."""

    def __init__(
        self,
        client: Any,
        *,
        limits: Mapping[str, int],
        timeout_s: float,
        emit: Callable[[Any], None],
    ) -> None:
        self._client = client
        self._limits = limits
        self._timeout_s = timeout_s
        self._emit = emit
        # Two at a time: a download that never ends costs a thread, not the session.
        self._downloads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kurir-download")
        #: Messages whose file is downloading, by provider id: each is reported
        #: once, by its download's thread or by `flush`, whichever comes first.
        self._pending: dict[str, InboundSeen] = {}
        self._lock = threading.Lock()

    def report(self, frame: InboundSeen, message: Any) -> None:
        """Report ``frame``, of the neonize ``message``: at once, or once its file is in."""
        download = wire.download_of(message)
        if download is None:
            self._emit(frame)
            return
        limit = self._limits.get(download.kind, 0)
        if download.length > limit:
            _not_kept(frame, download, f"its {download.length} bytes are over {limit}")
            self._emit(frame)
            return
        with self._lock:
            self._pending[frame.provider_id] = frame
        # Not on this thread: whatsmeow hands on its events one at a time.
        threading.Thread(target=self._with_file, args=(frame, download, limit), daemon=True).start()

    def flush(self) -> None:
        """Report the messages still downloading at once, without their files: the session ends."""
        with self._lock:
            waiting, self._pending = list(self._pending.values()), {}
        for frame in waiting:
            log.warning("message %s: the session ends before its file came", frame.provider_id)
            self._emit(frame)

    def _with_file(self, frame: InboundSeen, download: wire.Download, limit: int) -> None:
        # The time counts from the message's arrival: a download still queued
        # behind two that hang is given up too, and never started.
        future = self._downloads.submit(self._client.download_any, download.message)
        try:
            data = future.result(timeout=self._timeout_s)
        except FutureTimeout:
            future.cancel()
            self._without(frame, download, f"it did not download within {self._timeout_s:g}s")
            return
        except Exception as error:  # neonize's DownloadError, or Go's text
            self._without(frame, download, f"it could not be downloaded ({error})")
            return
        if len(data) > limit:  # the sender declared less than it sent
            self._without(frame, download, f"its {len(data)} bytes are over {limit}")
            return
        if self._taken(frame):
            self._emit(
                msgspec.structs.replace(
                    frame,
                    media=bytes(data),
                    content_type=download.content_type,
                    filename=download.filename,
                )
            )

    def _without(self, frame: InboundSeen, download: wire.Download, why: str) -> None:
        if self._taken(frame):
            _not_kept(frame, download, why)
            self._emit(frame)

    def _taken(self, frame: InboundSeen) -> bool:
        """Whether ``frame`` was still waiting for its file (and is no more), not flushed."""
        with self._lock:
            return self._pending.pop(frame.provider_id, None) is not None


def _not_kept(frame: InboundSeen, download: wire.Download, why: str) -> None:
    log.warning("message %s: %s, so its %s is not kept", frame.provider_id, why, download.kind)
