"""Meta's recorded webhook payloads read into statuses, replies and inbound messages."""

import copy
import json
from typing import Any

import pytest

from kurir.domain.ids import new_message_id
from kurir.domain.status import MessageStatus
from kurir.transports.cloud.payloads import read_reply_id, reply_id
from kurir.transports.cloud.webhooks import (
    MalformedNotification,
    MessageReport,
    ReplyReport,
    read_notification,
)
from tests.support.graph_data import DEFAULT_PHONE_NUMBER, fixture

NUMBER = DEFAULT_PHONE_NUMBER.id
WAMID = "wamid.HBgMNjI4MTExMTExMTExFQIAERgSODREMUYzM0Y1RTE2RjA5REIyAA=="
INBOUND_WAMID = "wamid.HBgMNjI4MTExMTExMTExFQIAEhgUM0RFRTUxMUMxOTY1NzJGQzE0MzgA"
KURIR_ID = "3EB0018F6A2B7C4D5E6F"


def read(payload: dict[str, Any]) -> Any:
    return read_notification(json.dumps(payload).encode(), NUMBER)


def value(payload: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]
    return found


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("webhook_status_sent.json", MessageStatus.SENT),
        ("webhook_status_delivered.json", MessageStatus.DELIVERED),
        ("webhook_status_read.json", MessageStatus.READ),
    ],
)
def test_statuses_name_metas_id_and_the_time_in_milliseconds(
    name: str, status: MessageStatus
) -> None:
    payload = fixture(name)
    read_back = read(payload)
    [report] = read_back.statuses
    assert (report.wamid, report.status, report.message_id, report.reason) == (
        WAMID,
        status,
        None,
        None,
    )
    assert report.at == int(value(payload)["statuses"][0]["timestamp"]) * 1000
    assert (read_back.replies, read_back.messages, read_back.foreign) == ([], [], 0)


def test_kurirs_id_comes_back_as_the_callback_data() -> None:
    payload = fixture("webhook_status_delivered.json")
    value(payload)["statuses"][0]["biz_opaque_callback_data"] = KURIR_ID
    [report] = read(payload).statuses
    assert report.message_id == KURIR_ID
    # Callback data another system put there is no message id of Kurir's.
    value(payload)["statuses"][0]["biz_opaque_callback_data"] = "campaign-7"
    assert read(payload).statuses[0].message_id is None


def test_a_failed_status_carries_metas_code_title_and_details() -> None:
    [report] = read(fixture("webhook_status_failed.json")).statuses
    assert report.status == MessageStatus.FAILED
    assert report.reason is not None
    assert "only a template message can reach them" in report.reason
    assert "(#131047) Re-engagement message: Message failed to send because more" in report.reason


def test_statuses_kurir_does_not_report_are_left_out() -> None:
    payload = fixture("webhook_status_read.json")
    value(payload)["statuses"][0]["status"] = "deleted"
    assert read(payload).statuses == []


@pytest.mark.parametrize(
    ("name", "choice"),
    [
        ("webhook_message_button_reply.json", "button_reply"),
        ("webhook_message_list_reply.json", "list_reply"),
    ],
)
def test_a_reply_to_kurirs_button_names_the_message_and_the_position(
    name: str, choice: str
) -> None:
    payload = fixture(name)
    message = value(payload)["messages"][0]
    message["interactive"][choice]["id"] = reply_id(KURIR_ID, 2)
    notification = read(payload)
    assert notification.replies == [ReplyReport(KURIR_ID, 2, "628111111111", 1750263801_000)]
    assert notification.messages == []


def test_a_reply_whose_id_kurir_did_not_give_is_an_inbound_message() -> None:
    [report] = read(fixture("webhook_message_button_reply.json")).messages  # its id: opsi-2
    assert (report.message.type, report.message.text, report.quoted_wamid) == (
        "interactive",
        "Opsi 2",
        WAMID,
    )


@pytest.mark.parametrize(
    ("name", "kind", "text"),
    [
        ("webhook_message_text.json", "text", None),
        ("webhook_message_image.json", "image", "Bukti transfer"),
        ("webhook_message_document.json", "document", "Faktur Juni"),
    ],
)
def test_messages_become_inbound_with_sender_name_and_metas_id(
    name: str, kind: str, text: str | None
) -> None:
    payload = fixture(name)
    [report] = read(payload).messages
    assert isinstance(report, MessageReport)
    inbound = report.message
    expected_text = text or value(payload)["messages"][0]["text"]["body"]
    assert (inbound.sender, inbound.type, inbound.text, inbound.sender_name) == (
        "628111111111",
        kind,
        expected_text,
        "Budi",
    )
    assert inbound.provider_message_id == INBOUND_WAMID
    assert inbound.at == 1750263801_000


def test_changes_about_another_number_are_counted_and_left_out() -> None:
    payload = fixture("webhook_status_read.json")
    other = copy.deepcopy(payload["entry"][0]["changes"][0])
    other["value"]["metadata"]["phone_number_id"] = "106540352242999"
    payload["entry"][0]["changes"].append(other)
    notification = read(payload)
    assert (len(notification.statuses), notification.foreign) == (1, 1)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"object": "page", "entry": []}', b'{"entry": 5}', b"[" * 10_000],
)
def test_a_body_that_is_no_notification_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedNotification):
        read_notification(body, NUMBER)


def test_reply_ids_round_trip_and_others_are_not_read_as_kurirs() -> None:
    message_id = new_message_id()
    for index in range(1, 11):
        assert read_reply_id(reply_id(message_id, index)) == (message_id, index)
    for foreign in ("opsi-2", f"{message_id}:0", f"{message_id}:11", f"{message_id}:x", message_id):
        assert read_reply_id(foreign) is None
