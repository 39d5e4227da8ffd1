"""What a device's transport reports, applied by the store: the `TransportEvents` sink.

Workers hand one to each transport they open, and the API builds one for a
provider's inbound webhook (or the sandbox's simulated recipient), so every
receipt, button press, inbound message and state change takes the same path,
and causes the same events.
"""

from kurir.clock import now_ms
from kurir.domain.buttons import DEFAULT_REPLY_WINDOW_SECONDS
from kurir.domain.status import MessageStatus
from kurir.store import Store, accounts, inbound, lifecycle
from kurir.store.contacts import DEFAULT_STOP_WORDS
from kurir.store.provider_reports import UNEXPLAINED_FAILURE
from kurir.store.records import (
    ButtonPress,
    InboundMessage,
    InboundRecorded,
    ProviderFailure,
    Receipt,
    ReplyRecorded,
)


class DeviceEvents:
    """The sink of one device; every call returns once what it reports is committed."""

    def __init__(
        self,
        store: Store,
        *,
        device_id: int,
        account_id: int,
        reply_window_ms: int = DEFAULT_REPLY_WINDOW_SECONDS * 1000,
        opt_out_words: frozenset[str] = DEFAULT_STOP_WORDS,
    ) -> None:
        self._store = store
        self._device_id = device_id
        self._account_id = account_id
        self._reply_window_ms = reply_window_ms
        self._opt_out_words = opt_out_words

    async def receipt(
        self, message_id: str, status: MessageStatus, at: int, reason: str | None = None
    ) -> None:
        if status == MessageStatus.FAILED:  # the provider took it, then could not deliver it
            failure = ProviderFailure(
                device_id=self._device_id,
                message_id=message_id,
                reason=reason or UNEXPLAINED_FAILURE,
                at=at,
            )
            await self._store.committer(lifecycle.fail_reported_messages).submit(failure)
            return
        await self._store.record_receipt(
            Receipt(device_id=self._device_id, message_id=message_id, status=status, at=at)
        )

    async def button_press(self, press: ButtonPress) -> None:
        await self._store.write(
            lifecycle.apply_button_press, device_id=self._device_id, press=press
        )

    async def inbound(self, message: InboundMessage) -> None:
        await self.record_inbound(message)

    async def record_inbound(
        self, message: InboundMessage
    ) -> ReplyRecorded | InboundRecorded | None:
        """As `inbound`, answering what ``message`` became.

        A button's reply, an inbound message, or nothing (the provider
        delivered it before).
        """
        return await self._store.write(
            inbound.record_inbound,
            account_id=self._account_id,
            device_id=self._device_id,
            message=message,
            reply_window_ms=self._reply_window_ms,
            opt_out_words=self._opt_out_words,
        )

    async def device_state(self, state: str) -> None:
        await self._store.write(
            accounts.set_device_state, device_id=self._device_id, state=state, at=now_ms()
        )
