"""The right recipient every time: a number reaches the same person however it is written.

Kurir answers with the recipient as country code and number (``to``); a client
that stores it and sends it back must reach the same person, and a sandbox
device's ``not_on_whatsapp`` list must match recipients however either is written.
"""

import secrets
from pathlib import Path

import httpx
import pytest

from tests.e2e.contract import accepted_id, sandbox_deliveries, send, wait_for_status
from tests.e2e.kurir_cli import assert_all_refused, succeeded
from tests.support.gateway import running, settled
from tests.support.provision import provision_tenant
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


@pytest.mark.parametrize(
    ("region", "listed", "recipient", "other"),
    [
        ("ID", "0811111111", "62811111111", "628122223333"),
        # The list is read in the server's default region, not always Indonesia's.
        ("MY", "012-345 6789", "60123456789", "60123456788"),
    ],
)
def test_a_listed_number_in_national_notation_fails_permanently(
    database_url: str, tmp_path: Path, region: str, listed: str, recipient: str, other: str
) -> None:
    account = f"recipients-{secrets.token_hex(4)}"
    tenant = provision_tenant(database_url, name=account)
    device = f"{account}-listed"
    add = ["devices", "add", "--account", account, "--phone", "+62 812 0000 0001"]
    [added] = assert_all_refused(
        [
            (
                [*add, "--config", '{"not_on_whatsapp": ["0811"]}'],
                2,
                "sandbox config: not_on_whatsapp is not a valid phone number: '0811'",
            )
        ],
        database_url=database_url,
        env={"KURIR_DEFAULT_REGION": region},
        alongside=[[*add, "--id", device, "--config", f'{{"not_on_whatsapp": ["{listed}"]}}']],
    )
    succeeded(added)
    with (
        running(database_url, tmp_path, KURIR_DEFAULT_REGION=region) as server,
        server.client(tenant.api_key) as http,
    ):
        nobody = accepted_id(send(http, device, phone=recipient))
        somebody = accepted_id(send(http, device, phone=other))
        failed = settled(http, nobody, timeout=10)
        assert (failed["status"], failed["attempts"]) == ("failed", 1)
        assert failed["last_error"] == f"recipient {recipient} is not on WhatsApp"
        assert settled(http, somebody, timeout=10)["status"] == "delivered"
        assert [item["to"] for item in sandbox_deliveries(http, device)] == [other]
