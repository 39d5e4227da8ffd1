"""The integrator's whole story through a real ``kurir serve`` and a real receiver.

An endpoint registered through the API for every event; a button message sent
through the sandbox; the recipient presses a button, answers with a button's
number, then writes something else. The receiver, verifying every request
with ``standardwebhooks`` as a customer's would, gets each status, each reply
and the free text in Alat WA's shape, with Kurir's ``event`` and button fields.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.webhook_receiving import (
    DELIVERING_ENV,
    WAIT_S,
    message_kinds,
    register,
    repeats,
    status_kinds,
    wait_for_kinds,
)
from tests.support.databases import DATABASE_KINDS, database_of_kind
from tests.support.gateway import running, send, settled, wait_for
from tests.support.receiver import Receiver

RECIPIENT = "628111111111"  # whom `tests.support.gateway.send` sends to
STATUSES = ("Sending", "Sent", "Delivered", "Read")


@pytest.fixture(params=DATABASE_KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_of_kind(request.param, tmp_path) as url:
        yield url


def test_statuses_replies_and_received_messages_reach_a_verifying_receiver(
    database: str, tmp_path: Path
) -> None:
    with (
        Receiver() as receiver,
        running(database, tmp_path, **DELIVERING_ENV) as kurir,
        kurir.client() as http,
    ):
        register(http, receiver)
        device, device_phone = kurir.device_id, kurir.device_phone
        started = int(time.time())
        message_id = send(http, device, "Datang besok?")  # buttons "Ya", "Tidak"
        assert settled(http, message_id, timeout=30)["status"] == "delivered"

        def reply(body: dict[str, object]) -> dict[str, object]:
            response = http.post(f"/sandbox/{device}/reply", json={"phone": RECIPIENT, **body})
            assert response.status_code == 200, response.text
            answer: dict[str, object] = response.json()
            return answer

        pressed = reply({"button": 2})
        assert (pressed["message_id"], pressed["button"], pressed["index"]) == (
            message_id,
            "Tidak",
            2,
        )
        numbered = reply({"text": "1"})
        assert (numbered["message_id"], numbered["button"], numbered["index"]) == (
            message_id,
            "Ya",
            1,
        )
        assert reply({"text": "Jam berapa?"})["status"] == "ok"

        # The sandbox's receipt comes before the worker records the send; the
        # receiver still hears of each step: sending, sent, delivered, read.
        expected = status_kinds([message_id], STATUSES)
        expected[("message.reply", message_id, "Tidak")] = 1
        expected[("message.reply", message_id, "Ya")] = 1
        wait_for_kinds(receiver, expected, what="the statuses and the replies")
        # An inbound message's id is Kurir's own: waited for by its kind.
        wait_for(
            lambda: any(item.event == "message.received" for item in receiver.snapshot()),
            timeout=WAIT_S,
            what="the free text",
        )
        arrived = receiver.snapshot()
        finished = int(time.time())

    assert receiver.refused == 0  # every signature verified
    assert repeats(receiver) == {}
    bodies = [item.body for item in arrived if item.event != "device.state"]
    assert all(body["device"] == device for body in bodies)
    for body in bodies:
        assert started <= body["data"]["created"] <= finished, body

    statuses = sorted(
        (b["data"] for b in bodies if b["event"] == "message.status"),
        key=lambda data: (data["created"], data["status_code"]),
    )
    assert [list(data) for data in statuses] == [
        ["message_id", "status_code", "status", "created"]
    ] * len(STATUSES)
    assert [(d["message_id"], d["status"], d["status_code"]) for d in statuses] == [
        (message_id, "Sending", 1),
        (message_id, "Sent", 2),
        (message_id, "Delivered", 3),
        (message_id, "Read", 4),
    ]

    replies = sorted(
        (b["data"] for b in bodies if b["event"] == "message.reply"),
        key=lambda data: data["button_index"],
    )
    assert [
        {name: value for name, value in data.items() if name != "created"} for data in replies
    ] == [
        {
            "message_id": message_id,
            "sender": RECIPIENT,
            "message": "Ya",  # the label, whether pressed or written as its number
            "button_index": 1,
            "button_label": "Ya",
        },
        {
            "message_id": message_id,
            "sender": RECIPIENT,
            "message": "Tidak",
            "button_index": 2,
            "button_label": "Tidak",
        },
    ]

    (received,) = [b["data"] for b in bodies if b["event"] == "message.received"]
    assert list(received) == [
        "message_id",
        "related_message_id",
        "type",
        "sender_name",
        "sender",
        "receiver",
        "message",
        "media_url",
        "author",
        "created",
    ]
    assert received["message_id"]
    assert received["message_id"] != message_id
    assert {name: received[name] for name in list(received)[1:-1]} == {
        "related_message_id": "",
        "type": "text",
        "sender_name": received["sender_name"],
        "sender": RECIPIENT,
        "receiver": device_phone,
        "message": "Jam berapa?",
        "media_url": None,
        "author": None,
    }
    expected[("message.received", received["message_id"], "text")] = 1
    assert message_kinds(receiver) == expected
