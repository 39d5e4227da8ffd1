"""What a provider's webhook reports about one device, applied inside the caller's transaction.

`DeviceEvents` commits each report on its own, which suits a worker's
transport. A provider's webhook is different: its delivery must be marked
applied in the same transaction that applies it, or a crash in between
would apply it twice or never. So a transport with a table of deliveries
hands the reports here, within the transaction that marks them, and the
same lifecycle functions as `DeviceEvents` uses change the messages.
"""

from collections import defaultdict
from collections.abc import Sequence

import msgspec
from sqlalchemy import Connection

from kurir.domain.status import MessageStatus
from kurir.store import inbound, lifecycle
from kurir.store.reading import message_ids_by_provider_id
from kurir.store.records import ButtonPress, InboundMessage, ProviderFailure, Receipt

#: A failure's ``last_error`` when the provider did not say why.
UNEXPLAINED_FAILURE = "the provider reported the message failed"


class ReportedStatus(msgspec.Struct, frozen=True):
    """The provider's word on a message the device sent, known by the provider's id."""

    provider_message_id: str
    status: MessageStatus
    at: int
    #: Kurir's id when the provider echoed it; otherwise found by ``provider_message_id``.
    message_id: str | None = None
    #: Why it failed, for a failed one.
    reason: str | None = None


class ReportedMessage(msgspec.Struct, frozen=True):
    """A message a user wrote, and the provider's id of the message it quotes."""

    message: InboundMessage
    quoted_provider_id: str | None = None


class ProviderReports(msgspec.Struct, frozen=True, kw_only=True):
    """One webhook's reports about one device, in the order they are applied."""

    device_id: int
    account_id: int
    statuses: Sequence[ReportedStatus] = ()
    presses: Sequence[ButtonPress] = ()
    messages: Sequence[ReportedMessage] = ()
    #: As `DeviceEvents` is given them: when a text answers a button, and the stop words.
    reply_window_ms: int
    opt_out_words: frozenset[str]


def apply_provider_reports(connection: Connection, batch: Sequence[ProviderReports]) -> None:
    """Apply every report of ``batch``: statuses first, then presses and messages, in order.

    Statuses only move a message forward, so those of the whole batch are
    applied together; what is out of order or repeated changes nothing.
    """
    known = _kurir_ids(connection, batch)
    receipts: list[Receipt] = []
    failures: list[ProviderFailure] = []
    for reports in batch:
        for status in reports.statuses:
            message_id = status.message_id or known.get(
                (reports.device_id, status.provider_message_id)
            )
            if message_id is None:
                continue
            if status.status == MessageStatus.FAILED:
                reason = status.reason or UNEXPLAINED_FAILURE
                failures.append(ProviderFailure(reports.device_id, message_id, reason, status.at))
            else:
                receipts.append(Receipt(reports.device_id, message_id, status.status, status.at))
    if receipts:
        lifecycle.apply_receipts(connection, receipts)
    if failures:
        lifecycle.fail_reported_messages(connection, failures)
    for reports in batch:
        for press in reports.presses:
            lifecycle.apply_button_press(connection, device_id=reports.device_id, press=press)
        for reported in reports.messages:
            message = reported.message
            quoted = reported.quoted_provider_id
            if quoted is not None and (reports.device_id, quoted) in known:
                message = msgspec.structs.replace(
                    message, quoted_message_id=known[(reports.device_id, quoted)]
                )
            inbound.record_inbound(
                connection,
                account_id=reports.account_id,
                device_id=reports.device_id,
                message=message,
                reply_window_ms=reports.reply_window_ms,
                opt_out_words=reports.opt_out_words,
            )


def _kurir_ids(
    connection: Connection, batch: Sequence[ProviderReports]
) -> dict[tuple[int, str], str]:
    """Kurir's ids of the messages the batch names only by the provider's, per device."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for reports in batch:
        ids = wanted[reports.device_id]
        ids.update(s.provider_message_id for s in reports.statuses if s.message_id is None)
        ids.update(m.quoted_provider_id for m in reports.messages if m.quoted_provider_id)
    return {
        (device_id, provider_id): message_id
        for device_id, provider_ids in wanted.items()
        if provider_ids
        for provider_id, message_id in message_ids_by_provider_id(
            connection, device_id=device_id, provider_ids=provider_ids
        ).items()
    }
