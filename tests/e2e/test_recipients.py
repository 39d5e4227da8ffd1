"""The right recipient every time: a number reaches the same person however it is written.

Kurir answers with the recipient as country code and number (``to``); a client
that stores it and sends it back must reach the same person.
"""

import httpx
import pytest

from tests.e2e.contract import accepted_id, sandbox_deliveries, send, wait_for_status
from tests.support.server import KurirProcess


@pytest.mark.parametrize(
    ("phone", "to"),
    [
        # Indonesian numbers with their country code, no +: read as what they are,
        # not as national numbers that would become 6262…
        ("62811111111", "62811111111"),
        ("62812345678", "62812345678"),
        ("62361123456", "62361123456"),
        # Other countries' numbers written the same way.
        ("16502530000", "16502530000"),
        ("60123456789", "60123456789"),
        ("4420 7946 0958", "442079460958"),
        ("0811111111", "62811111111"),
    ],
)
def test_the_to_sent_back_reaches_the_same_recipient(
    shared_server: KurirProcess, http: httpx.Client, phone: str, to: str
) -> None:
    first = send(http, shared_server.device_id, phone=phone)
    assert first.json()["to"] == to
    again = send(http, shared_server.device_id, phone=first.json()["to"])
    assert again.json()["to"] == to
    for message_id in (accepted_id(first), accepted_id(again)):
        assert wait_for_status(http, message_id, "delivered")["to"] == to
        [delivery] = [
            item
            for item in sandbox_deliveries(http, shared_server.device_id)
            if item["message_id"] == message_id
        ]
        assert delivery["to"] == to
