"""Receipts, replies and inbound messages from a session, reported through the device's sink.

WhatsApp names messages by the ids it chose when it accepted them. The
worker learns an id with the send's answer and remembers it (in memory at
once, in ``whatsapp_web_sent`` right after), so a receipt can be told which
Kurir message it is about. Callbacks come from whatsmeow's threads in no
particular order: a receipt that arrives before its send's answer waits a
while for it, instead of being lost.
"""

import asyncio
import collections
import contextlib
import logging
import time

from kurir.clock import now_ms
from kurir.domain.buttons import ButtonMessage, find_button
from kurir.domain.content import decode_content
from kurir.domain.errors import ValidationError
from kurir.domain.status import MessageStatus
from kurir.store.records import ButtonPress, InboundFile, InboundMessage
from kurir.transports.base import TransportContext
from kurir.transports.whatsapp_web import store as db
from kurir.transports.whatsapp_web.protocol import (
    Answer,
    ButtonSeen,
    InboundSeen,
    ReceiptSeen,
    ToWorker,
)

log = logging.getLogger("kurir.whatsapp_web")

#: Ids remembered in memory; older ones are read from the database.
_RECENT = 10_000
#: How long a receipt waits for the answer of the send it is about.
_UNMATCHED_WAIT_S = 60.0


class FrameHandler:
    """Turns a session's news into the sink's calls, with WhatsApp's ids made Kurir's."""

    def __init__(self, context: TransportContext) -> None:
        self._context = context
        self._device_id = context.device.id
        self._recent: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._unmatched: list[tuple[float, ReceiptSeen]] = []
        self._retrying: set[asyncio.Task[None]] = set()

    def on_answer(self, answer: Answer, tag: object) -> None:
        """A send's answer, before anything the session said after it is handled."""
        if isinstance(tag, str) and answer.value is not None and answer.error is None:
            self.remember(answer.value, tag)
            if self._unmatched:
                task = asyncio.get_running_loop().create_task(self._retry_unmatched())
                self._retrying.add(task)
                task.add_done_callback(self._retrying.discard)

    def remember(self, provider_id: str, message_id: str) -> None:
        self._recent[provider_id] = message_id
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    async def handle(self, frame: ToWorker) -> None:
        try:
            if isinstance(frame, ReceiptSeen):
                await self._receipt(frame)
            elif isinstance(frame, InboundSeen):
                await self._inbound(frame)
            elif isinstance(frame, ButtonSeen):
                await self._button(frame)
        except Exception:  # one bad report must not stop the session's others
            log.exception("device %s: could not apply %r", self._context.device.public_id, frame)

    async def _ids(self, provider_ids: tuple[str, ...]) -> dict[str, str]:
        found = {pid: self._recent[pid] for pid in provider_ids if pid in self._recent}
        missing = [pid for pid in provider_ids if pid not in found]
        if missing:
            found.update(
                await self._context.store.read(
                    db.find_sent, device_id=self._device_id, provider_ids=missing
                )
            )
        return found

    async def _receipt(self, receipt: ReceiptSeen) -> None:
        found = await self._ids(receipt.provider_ids)
        status = MessageStatus(receipt.status)
        for message_id in found.values():
            await self._context.events.receipt(message_id, status, receipt.at)
        unknown = tuple(pid for pid in receipt.provider_ids if pid not in found)
        if unknown:
            waiting = ReceiptSeen(provider_ids=unknown, status=receipt.status, at=receipt.at)
            self._unmatched.append((time.monotonic() + _UNMATCHED_WAIT_S, waiting))

    async def _retry_unmatched(self) -> None:
        now = time.monotonic()
        waiting = [(deadline, r) for deadline, r in self._unmatched if deadline > now]
        self._unmatched = []
        for deadline, receipt in waiting:
            found = {pid: self._recent[pid] for pid in receipt.provider_ids if pid in self._recent}
            status = MessageStatus(receipt.status)
            # It came before its send's answer, and WhatsApp's times are whole seconds:
            # as sent_at it could put the message before one sent just ahead of it.
            at = max(receipt.at, now_ms())
            for message_id in found.values():
                with contextlib.suppress(Exception):  # a lost receipt costs a status, not a message
                    await self._context.events.receipt(message_id, status, at)
            rest = tuple(pid for pid in receipt.provider_ids if pid not in found)
            if rest:
                self._unmatched.append(
                    (deadline, ReceiptSeen(provider_ids=rest, status=receipt.status, at=receipt.at))
                )

    async def _inbound(self, seen: InboundSeen) -> None:
        quoted = None
        if seen.quoted is not None:
            quoted = (await self._ids((seen.quoted,))).get(seen.quoted)
        await self._context.events.inbound(
            InboundMessage(
                sender=seen.sender,
                type=seen.type,
                at=seen.at,
                text=seen.text,
                sender_name=seen.sender_name,
                provider_message_id=seen.provider_id,
                quoted_message_id=quoted,
                media=InboundFile(
                    content_type=seen.content_type or "application/octet-stream",
                    data=seen.media,
                    filename=seen.filename,
                )
                if seen.media is not None
                else None,
            )
        )

    async def _button(self, seen: ButtonSeen) -> None:
        """A reply traced to the message it answers; as inbound text when it cannot be."""
        original = await self._context.store.read(
            db.sent_content, device_id=self._device_id, provider_id=seen.quoted
        )
        index = None
        if original is not None:
            content = decode_content(original[1])
            if isinstance(content, ButtonMessage):
                index = _position(content, seen.button_id, seen.label)
        if original is not None and index is not None:
            press = ButtonPress(message_id=original[0], sender=seen.sender, index=index, at=seen.at)
            await self._context.events.button_press(press)
            return
        await self._context.events.inbound(
            InboundMessage(
                sender=seen.sender,
                type="text",
                at=seen.at,
                text=seen.label or seen.button_id,
                sender_name=seen.sender_name,
                provider_message_id=seen.provider_id,
                quoted_message_id=original[0] if original is not None else None,
            )
        )


def _position(content: ButtonMessage, button_id: str | None, label: str | None) -> int | None:
    """Which button a reply chose: by the id it was sent with, else by its label."""
    if (
        button_id is not None
        and button_id.isdigit()
        and 1 <= int(button_id) <= len(content.buttons)
    ):
        return int(button_id)
    if label is None:
        return None
    try:
        return find_button(content.buttons, label)[0]
    except ValidationError:
        return None
