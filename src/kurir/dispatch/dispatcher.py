"""The dispatcher: turns due message rows into sends, once each, in order, paced.

The message row is the job. A worker first leases devices (so one worker at
a time sends for a device, which is what makes pacing and ordering hold), then
leases due messages of its devices, sends each through the device's
transport and records the outcome only while it still holds the lease. A
worker that dies leaves leases that run out; whoever holds the device next
claims the message again. A worker on the same host takes them back at once
(see `liveness`).

A removed device sends nothing more: recording an outcome tells whether the
device is still in service, so a worker learns of a removal before its next
send and fails what it had claimed for the device.

Waiting is driven by events and timers, never a busy poll: a commit of new
messages wakes the loop (``notice_new_messages``), and otherwise it sleeps until the
earliest due time among its idle devices, a pacing interval ending, or the
next lease renewal.
"""

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time

import msgspec

from kurir.clock import now_ms
from kurir.dispatch import liveness
from kurir.dispatch.media import fetch_media, media_timed_out
from kurir.dispatch.passes import PassLoop, sleep_seconds
from kurir.dispatch.stored_media import StoredMedia
from kurir.domain.broadcast import stored_media_of
from kurir.domain.buttons import DEFAULT_REPLY_WINDOW_SECONDS
from kurir.domain.contacts import DEFAULT_OPT_OUT_WORDS, opt_out_words
from kurir.domain.content import MediaMessage, decode_content
from kurir.domain.retry import RetryPolicy
from kurir.domain.status import DEVICE_REMOVED, MessageStatus
from kurir.egress import Egress
from kurir.logs import log_context
from kurir.metrics import METRICS
from kurir.sealing import SecretBox
from kurir.store import Store, leases, lifecycle
from kurir.store.device_events import DeviceEvents
from kurir.store.records import ClaimedMessage, Device, SendOutcome
from kurir.transports import (
    DeviceInfo,
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    Transport,
    TransportContext,
    build_transport,
)

log = logging.getLogger("kurir.dispatch")

# Renewals asked for by news of unknown devices come at most this often.
_EARLY_RENEWAL_GAP_MS = 250
# A media server that does not accept a connection in this time is not there.
_MEDIA_CONNECT_TIMEOUT_S = 10.0
_HISTOGRAMS = METRICS.histograms
_COUNTS = METRICS.counts
#: A send's outcome as the metrics name it: a queued outcome is a retry.
_OUTCOMES: dict[str, str] = {
    MessageStatus.SENT: "sent",
    MessageStatus.QUEUED: "retry",
    MessageStatus.FAILED: "failed",
}


class DispatchSettings(msgspec.Struct, frozen=True):
    """How the dispatcher claims and sends."""

    #: How long a claimed message is held before another worker may take it back.
    message_lease_ms: int = 60_000
    #: How long a worker owns a device without renewing; a dead worker's devices
    #: are taken over after this.
    device_lease_ms: int = 15_000
    #: The most messages claimed at once for one device that has no pacing.
    batch_per_device: int = 50
    #: A send that takes longer is abandoned as a transient failure.
    send_timeout_s: float = 30.0
    #: The longest sleep when nothing in this process announces new messages
    #: (a lone worker on SQLite, which has no LISTEN/NOTIFY); None: no cap.
    max_idle_s: float | None = None
    retry: RetryPolicy = RetryPolicy()
    #: Whether media may be fetched from private addresses (development and tests).
    allow_private_urls: bool = False
    #: How long after a button message a text can answer it (see `kurir.store.inbound`).
    reply_window_ms: int = DEFAULT_REPLY_WINDOW_SECONDS * 1000
    #: Texts that opt their sender out of broadcasts (see `kurir.store.contacts`).
    opt_out_words: frozenset[str] = opt_out_words(DEFAULT_OPT_OUT_WORDS)
    #: The region of national phone numbers in transport configs.
    default_region: str = "ID"
    #: Opens devices' sealed secrets (``KURIR_SECRET_KEY``); None when it is not set.
    secrets: SecretBox | None = None


class _DeviceWork:
    """One owned device: its transport, its pacing and its claimed messages."""

    def __init__(self, device: Device, transport: Transport, next_send_at: int) -> None:
        self.device = device
        self.transport = transport
        self.info = transport.context.device
        self.next_send_at = next_send_at
        self.queue: list[ClaimedMessage] = []
        self.task: asyncio.Task[None] | None = None
        #: The device was removed: send nothing more, fail what is claimed.
        self.removed = False

    @property
    def paced(self) -> bool:
        return self.device.max_interval_ms > 0

    @property
    def idle(self) -> bool:
        return self.task is None or self.task.done()

    def interval_ms(self) -> int:
        low, high = self.device.min_interval_ms, self.device.max_interval_ms
        return random.randint(low, max(low, high))


class Dispatcher:
    """Sends due messages of the devices this worker leases."""

    def __init__(self, store: Store, settings: DispatchSettings | None = None) -> None:
        self.store = store
        self.settings = settings or DispatchSettings()
        # Host and pid tell an operator which process holds a lease.
        self.worker_id = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"
        self._process = liveness.this_process()
        self._devices: dict[int, _DeviceWork] = {}
        self._passes = PassLoop(log, "dispatch cycle")
        self._leases_renewed_at = 0
        self._takeover_at: int | None = None
        self._renew_early = False
        self._active_devices: frozenset[int] = frozenset()
        self._draining: set[int] = set()
        self._egress = Egress(allow_private=self.settings.allow_private_urls)
        self._stored_media = StoredMedia(store)

    async def run(self) -> None:
        """Dispatch until `stop` is called."""
        log.info("dispatcher %s started", self.worker_id)
        try:
            await self._passes.run(self._dispatch_once)
        finally:
            await self._shutdown()

    def stop(self) -> None:
        self._passes.stop()

    async def _dispatch_once(self) -> float | None:
        """One pass: renew leases, claim for idle devices; return seconds to sleep."""
        now = now_ms()
        renew_every = self.settings.device_lease_ms // 3
        if (
            now - self._leases_renewed_at >= renew_every
            or (self._takeover_at is not None and now >= self._takeover_at)
            or (self._renew_early and now - self._leases_renewed_at >= _EARLY_RENEWAL_GAP_MS)
        ):
            await self._renew_device_leases(now)
        wake_at = self._leases_renewed_at + renew_every
        if self._takeover_at is not None:
            wake_at = min(wake_at, self._takeover_at)
        if self._renew_early:
            wake_at = min(wake_at, self._leases_renewed_at + _EARLY_RENEWAL_GAP_MS)

        idle = [
            work
            for work in self._devices.values()
            if work.idle and work.device.id not in self._draining
        ]
        ready = {
            work.device.id: (self.settings.batch_per_device if not work.paced else 1)
            for work in idle
            if work.next_send_at <= now
        }
        claimed = await self.store.write(
            lifecycle.claim_due_messages,
            worker=self.worker_id,
            device_limits=ready,
            now=now,
            lease_ms=self.settings.message_lease_ms,
        )
        for message in claimed:
            self._devices[message.device_id].queue.append(message)
        busy = {message.device_id for message in claimed}
        for device_id in busy:
            work = self._devices[device_id]
            work.task = asyncio.create_task(self._send_queue(work), name=f"device-{device_id}")

        waiting = [work for work in idle if work.device.id not in busy]
        due = await self.store.read(
            lifecycle.next_due_by_device, [work.device.id for work in waiting]
        )
        for work in waiting:
            if work.device.id in due:
                wake_at = min(wake_at, max(due[work.device.id], work.next_send_at))
        return sleep_seconds(wake_at, self.settings.max_idle_s)

    async def _renew_device_leases(self, now: int) -> None:
        held = await self.store.write(
            leases.renew_device_leases,
            worker=self.worker_id,
            now=now,
            lease_ms=self.settings.device_lease_ms,
            releasable=[work.device.id for work in self._devices.values() if work.idle],
            process=self._process,
            has_ended=liveness.has_ended,
        )
        for dead in held.dead_neighbours:
            log.warning("worker %s of this host has died; its leases are taken back", dead)
        self._leases_renewed_at = now
        self._renew_early = False
        self._active_devices = held.active
        # Another worker's lease running out may be a dead worker's: look then.
        self._takeover_at = (
            held.next_foreign_expiry + 1 if held.next_foreign_expiry is not None else None
        )
        current = {device.id for device, _ in held.owned}
        for device_id in list(self._devices):
            work = self._devices.get(device_id)  # a removed one may have left meanwhile
            if work is None or device_id in current:
                continue
            if device_id not in held.active and not work.idle:
                work.removed = True  # the send under way ends, then it leaves
                continue
            # Removed, handed back, or lost after a stall.
            del self._devices[device_id]
            if work.task is not None:
                work.task.cancel()
            await work.transport.close()
        self._draining = self._devices_to_hand_back(len(held.owned) - held.share)
        for device, next_send_at in held.owned:
            if device.id not in self._devices:
                transport = await self._open_transport(device)
                if transport is not None:
                    # A dead previous owner may have sent without recording it:
                    # one full interval before the first send keeps the pace.
                    if device.min_interval_ms:
                        next_send_at = max(next_send_at, now + device.min_interval_ms)
                    self._devices[device.id] = _DeviceWork(device, transport, next_send_at)

    def _devices_to_hand_back(self, surplus: int) -> set[int]:
        """Devices beyond this worker's share: claim nothing more for them.

        Idle ones go back at the next renewal; busy ones finish what they
        hold first, so a device never has two senders. Under steady load no
        device is ever idle by itself, so without draining a worker that
        started first would keep every device and a new worker would get none.
        """
        if surplus <= 0:
            return set()
        works = sorted(self._devices.values(), key=lambda w: (not w.idle, -w.device.id))
        return {work.device.id for work in works[:surplus]}

    def notice_new_messages(self, device_ids: set[int]) -> None:
        """New messages were committed for ``device_ids`` (empty: for any device).

        Wakes the loop if one of this worker's devices is named, and also when
        a device is named that did not exist at the last renewal: a device
        added while running is leased at once, not at the next renewal.
        """
        if device_ids and not device_ids.isdisjoint(self._devices):
            self._passes.wake()
        elif not device_ids or not device_ids <= self._active_devices:
            self._renew_early = True
            self._passes.wake()

    async def _open_transport(self, device: Device) -> Transport | None:
        """Build and open the device's transport; a failure shows in the device's state."""
        events = DeviceEvents(
            self.store,
            device_id=device.id,
            account_id=device.account_id,
            reply_window_ms=self.settings.reply_window_ms,
            opt_out_words=self.settings.opt_out_words,
        )
        context = TransportContext(
            device=DeviceInfo(
                id=device.id,
                public_id=device.public_id,
                account_id=device.account_id,
                phone=device.phone,
            ),
            events=events,
            store=self.store,
        )
        try:
            transport = build_transport(
                device.transport,
                device.config,
                context,
                default_region=self.settings.default_region,
                secrets=self.settings.secrets,
            )
            await transport.open()
        except Exception as error:  # a device's broken config must not stop the others
            log.warning("device %s: %s; not sending for it", device.public_id, error)
            with contextlib.suppress(Exception):  # if even this fails, the log says why
                await events.device_state(f"error: {error}")
            return None
        return transport

    async def _send_queue(self, work: _DeviceWork) -> None:
        """Send a device's claimed messages one after another, keeping its pace."""
        try:
            while work.queue and not work.removed:
                message = work.queue.pop(0)
                delay_ms = work.next_send_at - now_ms()
                if delay_ms > 0:
                    await asyncio.sleep(delay_ms / 1000)
                with log_context(
                    message_id=message.message_id,
                    device=work.device.public_id,
                    account=work.device.account_id,
                ):
                    await self._send_one(work, message)
            if work.removed:
                await self._let_go_of_removed(work)
        finally:
            work.queue.clear()
            if work.device.id in self._draining:
                self._renew_early = True  # hand it back now, not at the next renewal
            self._passes.wake()  # the device is idle: claim for it again

    async def _send_one(self, work: _DeviceWork, message: ClaimedMessage) -> None:
        started = time.monotonic()
        _HISTOGRAMS.schedule_lateness.observe(max(0, now_ms() - message.due_at) / 1000)
        content = decode_content(message.content)
        timeout_s = self.settings.send_timeout_s
        deadline = asyncio.timeout(timeout_s)
        fetching = isinstance(content, MediaMessage)
        try:
            async with deadline:
                media = None
                stored = stored_media_of(content.url) if isinstance(content, MediaMessage) else None
                if stored is not None:  # a media broadcast's file, from the database
                    media = await self._stored_media.load(stored, work.device.id)
                elif isinstance(content, MediaMessage):
                    media = await fetch_media(
                        self._egress,
                        content,
                        work.transport.limits,
                        connect_timeout=min(_MEDIA_CONNECT_TIMEOUT_S, timeout_s),
                        total_timeout=timeout_s,
                    )
                fetching = False
                provider_id = await work.transport.send(
                    OutboundMessage(
                        message_id=message.message_id,
                        device=work.info,
                        recipient=message.recipient,
                        content=content,
                        attempt=message.attempts,
                        media=media,
                    )
                )
        except PermanentSendError as error:
            outcome = self._outcome(work, message, MessageStatus.FAILED, error=str(error))
        except Exception as error:  # transient, timeouts and transport bugs alike: retry
            if isinstance(error, TimeoutError) and deadline.expired():
                # Its own words are none ("TimeoutError"): say what took too long.
                error = (
                    media_timed_out(content, timeout_s)
                    if fetching and isinstance(content, MediaMessage)
                    else TransientSendError(f"no answer from the transport within {timeout_s:g} s")
                )
            outcome = self._retry_or_fail(work, message, error)
        else:
            outcome = self._outcome(
                work, message, MessageStatus.SENT, provider_message_id=provider_id
            )
        transport = work.device.transport
        _HISTOGRAMS.send_latency.labels(transport).observe(time.monotonic() - started)
        _COUNTS.sends[transport, _OUTCOMES[outcome.status]] += 1
        _log_outcome(outcome)
        if work.paced:
            work.next_send_at = now_ms() + work.interval_ms()
            outcome = msgspec.structs.replace(outcome, next_send_at=work.next_send_at)
        if not await self.store.record_outcome(outcome):
            work.removed = True

    async def _let_go_of_removed(self, work: _DeviceWork) -> None:
        """Fail what is still claimed for a removed device, then drop the device."""
        unsent, work.queue = work.queue, []
        if unsent:
            failed = [
                self._outcome(work, message, MessageStatus.FAILED, error=DEVICE_REMOVED)
                for message in unsent
            ]
            await self.store.write(lifecycle.record_outcomes, failed)
        if self._devices.get(work.device.id) is work:
            del self._devices[work.device.id]
        await work.transport.close()
        log.info("device %s was removed; it sends nothing more", work.device.public_id)

    def _retry_or_fail(
        self, work: _DeviceWork, message: ClaimedMessage, error: Exception
    ) -> SendOutcome:
        reason = str(error) or type(error).__name__
        delay = self.settings.retry.delay_after(message.attempts)
        if delay is None:
            return self._outcome(
                work,
                message,
                MessageStatus.FAILED,
                error=f"gave up after {message.attempts} attempts: {reason}",
            )
        if isinstance(error, TransientSendError) and error.retry_after is not None:
            # The provider named its own pause (a pair rate limit): sooner only fails again.
            delay = max(delay, error.retry_after)
        return self._outcome(
            work,
            message,
            MessageStatus.QUEUED,
            error=reason,
            due_at=now_ms() + int(delay * 1000),
        )

    def _outcome(
        self,
        work: _DeviceWork,
        message: ClaimedMessage,
        status: MessageStatus,
        *,
        provider_message_id: str | None = None,
        error: str | None = None,
        due_at: int | None = None,
    ) -> SendOutcome:
        return SendOutcome(
            message_pk=message.id,
            device_id=work.device.id,
            worker=self.worker_id,
            status=status,
            at=now_ms(),
            provider_message_id=provider_message_id,
            error=error,
            due_at=due_at,
        )

    async def _shutdown(self) -> None:
        """Let in-flight sends finish and record, then hand the devices back."""
        tasks = [work.task for work in self._devices.values() if work.task is not None]
        # A removed device's task fails what it holds itself.
        kept = [work for work in self._devices.values() if not work.removed]
        unsent = [message.id for work in kept for message in work.queue]
        for work in kept:
            work.queue.clear()
        with contextlib.suppress(Exception):  # if this fails, the leases run out instead
            await self.store.write(lifecycle.release_claims, worker=self.worker_id, pks=unsent)
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.send_timeout_s)
        # All at once: a WhatsApp Web device's close waits for its session process to end.
        # return_exceptions: one transport failing to close stops no other.
        await asyncio.gather(
            *(work.transport.close() for work in self._devices.values()), return_exceptions=True
        )
        await self._egress.aclose()
        with contextlib.suppress(Exception):  # if this fails, the leases run out instead
            await self.store.write(leases.retire_worker, worker=self.worker_id)
        log.info("dispatcher %s stopped", self.worker_id)


def _log_outcome(outcome: SendOutcome) -> None:
    """A line per attempt (in the caller's log context: message, device, account)."""
    if outcome.status == MessageStatus.SENT:
        log.debug("sent")
    elif outcome.status == MessageStatus.QUEUED:
        log.info("send failed, to be retried: %s", outcome.error)
    else:
        log.warning("send failed: %s", outcome.error)
