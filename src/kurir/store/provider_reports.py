"""What a provider reports about messages it accepted: found by its own id, failed after sending.

WhatsApp's Cloud API accepts a message, answers with its id (``wamid.…``),
and may later report that it failed (in a status webhook, with its error
code and title). This module finds messages by the provider's id, which the
worker records with the send's outcome (its index is in `tables`), and
applies such a late failure: the message moves from ``sending`` or ``sent``
to ``failed`` with the provider's reason, never from ``delivered`` or
``read``, and a ``message.status`` event is recorded with the change.

`ReportingEvents` is the device sink with that failure path added (see
`TransportEvents.receipt`'s ``reason``).
"""

from collections.abc import Collection, Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.domain.events import MessageStatusEvent
from kurir.domain.status import MessageStatus
from kurir.store import Store
from kurir.store.device_events import DeviceEvents
from kurir.store.events import NewEvent, record_events
from kurir.store.tables import devices, messages

#: A provider's failure report moves only messages it may have been about.
_FAILABLE = (MessageStatus.SENDING.value, MessageStatus.SENT.value)


def message_ids_by_provider_id(
    connection: Connection, *, device_id: int, provider_ids: Collection[str]
) -> dict[str, str]:
    """Kurir's ids of the device's messages the provider knows by ``provider_ids``."""
    if not provider_ids:
        return {}
    rows = connection.execute(
        sa.select(messages.c.provider_message_id, messages.c.message_id).where(
            messages.c.device_id == device_id,
            messages.c.provider_message_id.in_(sorted(provider_ids)),
        )
    )
    return {row.provider_message_id: row.message_id for row in rows}


class ProviderFailure(msgspec.Struct, frozen=True):
    """The provider says a message of ``device_id`` it had accepted failed, and why."""

    device_id: int
    message_id: str
    reason: str
    at: int


_FAIL = (
    messages.update()
    .where(
        messages.c.message_id == sa.bindparam("mid"),
        messages.c.device_id == sa.bindparam("dev"),
        messages.c.status.in_(_FAILABLE),
    )
    .values(
        status=MessageStatus.FAILED,
        failed_at=sa.bindparam("at"),
        last_error=sa.bindparam("reason"),
        # A worker still sending it records nothing over this (its lease is gone).
        lease_owner=None,
        lease_until=None,
    )
    .returning(messages.c.account_id, messages.c.device_id, messages.c.message_id)
)


def fail_reported(connection: Connection, failures: Sequence[ProviderFailure]) -> list[None]:
    """Fail each reported message that was sending or sent; record the status events."""
    changed = []
    for failure in failures:
        row = connection.execute(
            _FAIL,
            {
                "mid": failure.message_id,
                "dev": failure.device_id,
                "at": failure.at,
                "reason": failure.reason,
            },
        ).first()
        if row is not None:
            changed.append((row, failure.at))
    if changed:
        public_ids = {
            row.id: row.public_id
            for row in connection.execute(
                sa.select(devices.c.id, devices.c.public_id).where(
                    devices.c.id.in_({row.device_id for row, _ in changed})
                )
            )
        }
        record_events(
            connection,
            [
                NewEvent(
                    row.account_id,
                    row.device_id,
                    MessageStatusEvent(
                        device=public_ids[row.device_id],
                        message_id=row.message_id,
                        status=MessageStatus.FAILED,
                        at=at,
                    ),
                )
                for row, at in changed
            ],
        )
    return [None] * len(failures)


class ReportingEvents(DeviceEvents):
    """A device's sink that also applies a provider's report that a sent message failed."""

    def __init__(self, store: Store, *, device_id: int, account_id: int) -> None:
        super().__init__(store, device_id=device_id, account_id=account_id)
        self._failures = store.committer(fail_reported)
        self._reporting_device = device_id

    async def receipt(
        self, message_id: str, status: MessageStatus, at: int, reason: str | None = None
    ) -> None:
        if status != MessageStatus.FAILED:
            await super().receipt(message_id, status, at)
            return
        await self._failures.submit(
            ProviderFailure(
                device_id=self._reporting_device,
                message_id=message_id,
                reason=reason or "the provider reported the message failed",
                at=at,
            )
        )
