"""A Cloud API button message end to end, as the application behind Kurir sees it.

A real ``kurir serve`` with two ``cloud`` devices added by the CLI, each on a
Graph stand-in of its own; the application's receiver (``standardwebhooks``
verifying every delivery) registered through ``POST /webhooks`` for every
device. The stand-in posts Meta's signed webhooks; among the genuine ones
come a forged one, a foreign one (rightly signed for the other device) and
Meta's redeliveries of the same bytes. The receiver must get exactly the
events the genuine ones mean, once each.

The order of meaning is checked on the events' own fields, not on their
arrival, which concurrent deliveries may shuffle: ordered by ``status_code``
(1 sending, 2 sent, 3 delivered, 4 read) their ``created`` times never go back, and the
reply comes at or after the read. The stand-in's webhooks carry increasing
timestamps, so a shuffled application would show as a time going back.
"""

import copy
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cloud_device import (
    CLOUD,
    add_cloud_device,
    message,
    send_buttons,
    status_becomes,
    wamid_of,
    webhook_url,
)
from tests.support.gateway import running, wait_for
from tests.support.graph_data import PhoneNumber
from tests.support.graph_standin import GraphStandin
from tests.support.receiver import Received, Receiver
from tests.support.server import KurirProcess

OTHER = "dev-other"
OTHER_NUMBER = PhoneNumber(
    id="106540352242999",
    display_phone_number="+62 812-3333-333",
    verified_name="Lain",
    quality_rating="GREEN",
)


class Flow:
    """The server, both stand-ins, the receiver and the registered endpoint's id."""

    def __init__(
        self, server: KurirProcess, graph: GraphStandin, other: GraphStandin, receiver: Receiver
    ) -> None:
        self.server = server
        self.graph = graph
        self.other = other
        self.receiver = receiver
        self.endpoint = ""


@pytest.fixture
def flow(database_url: str, tmp_path: Path) -> Iterator[Flow]:
    with (
        GraphStandin() as graph,
        GraphStandin(app_secret="another-app-secret", phone=OTHER_NUMBER) as other,
        Receiver() as receiver,
        running(database_url, tmp_path, KURIR_ALLOW_PRIVATE_URLS="true") as server,
    ):
        add_cloud_device(server, graph, tmp_path)
        add_cloud_device(server, other, tmp_path, device=OTHER)
        graph.webhooks.url = webhook_url(server)
        other.webhooks.url = webhook_url(server, OTHER)
        flow = Flow(server, graph, other, receiver)
        with server.client() as http:
            created = http.post(
                "/webhooks",
                json={"url": receiver.url, "events": ["message.status", "message.reply"]},
            )
            assert created.status_code == 200, created.text
        receiver.secret = created.json()["data"]["secret"]
        flow.endpoint = created.json()["data"]["id"]
        yield flow


def as_other_number(payload: dict[str, Any]) -> dict[str, Any]:
    """The same notification, naming the other device's business number."""
    foreign = copy.deepcopy(payload)
    foreign["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = OTHER_NUMBER.id
    return foreign


def all_deliveries(http: httpx.Client, endpoint: str) -> list[dict[str, Any]]:
    response = http.get(f"/webhooks/{endpoint}/deliveries", params={"limit": 100})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def test_a_button_message_s_statuses_and_reply_reach_the_application_once_each(
    flow: Flow,
) -> None:
    graph, other, receiver = flow.graph, flow.other, flow.receiver
    with flow.server.client() as http:
        message_id = send_buttons(http)
        wamid = wamid_of(graph, message_id)
        status_becomes(http, message_id, "sent")  # Meta accepted it: Kurir's own "sent"
        # Meta's timestamps, a second apart, none before Kurir's "sent".
        t0 = int(time.time()) + 1

        def delivered(payload: dict[str, Any]) -> None:
            assert graph.webhooks.deliver(payload).status == 200

        delivered(graph.status(wamid, "sent", timestamp=t0))
        reached = graph.webhooks.deliver(graph.status(wamid, "delivered", timestamp=t0 + 1))
        assert reached.status == 200
        status_becomes(http, message_id, "delivered")

        # Forged (another secret, or none) and foreign (rightly signed by the other
        # device's app, to its URL, naming its number): a "read" and a press of button 1.
        read = graph.status(wamid, "read", timestamp=t0 + 2)
        press_1 = graph.button_reply(wamid, f"{message_id}:1", timestamp=t0 + 2)
        for payload in (read, press_1):
            for signing in ("forged", "missing"):
                assert graph.webhooks.deliver(payload, signing=signing).status == 403
            assert other.webhooks.deliver(as_other_number(payload)).status == 200
        assert message(http, message_id)["status"] == "delivered"
        assert message(http, message_id)["reply"] is None

        delivered(read)
        press_2 = graph.webhooks.deliver(
            graph.button_reply(wamid, f"{message_id}:2", timestamp=t0 + 3)
        )
        assert press_2.status == 200
        # Meta's redeliveries of the same bytes: answered 200, applied once.
        assert graph.webhooks.replay(press_2).status == 200
        assert graph.webhooks.replay(reached).status == 200

        shown = message(http, message_id)
        assert shown["status"] == "read"
        assert (shown["reply"]["button"], shown["reply"]["index"]) == ("Opsi 2", 2)

        # Events are written with the changes that cause them, so once Meta's posts
        # were answered every event exists: the endpoint's log is complete now.
        log = all_deliveries(http, flow.endpoint)
        meant = [
            ("message.status", 1, "Sending"),
            ("message.status", 2, "Sent"),
            ("message.status", 3, "Delivered"),
            ("message.status", 4, "Read"),
            ("message.reply", None, "Opsi 2"),
        ]
        assert Counter(described(d["payload"]) for d in log) == Counter(meant)
        assert all(d["payload"]["data"]["message_id"] == message_id for d in log)
        assert {d["payload"]["device"] for d in log} == {CLOUD}

        def all_arrived() -> list[Received] | None:
            got = receiver.snapshot()
            return got if len(got) >= len(log) else None

        got = wait_for(all_arrived, timeout=30, what="the receiver to get every event")
        assert sorted(item.webhook_id for item in got) == sorted(d["id"] for d in log)
        assert receiver.refused == 0
    assert_order_of_meaning([item.body for item in got], t0)


def described(body: dict[str, Any]) -> tuple[str, int | None, str]:
    data = body["data"]
    if body["event"] == "message.reply":
        return (body["event"], None, data["button_label"])
    return (body["event"], data["status_code"], data["status"])


def assert_order_of_meaning(bodies: list[dict[str, Any]], t0: int) -> None:
    """Sending, sent, delivered, read and then the reply, by the events' codes and times."""
    statuses = sorted(
        (b["data"] for b in bodies if b["event"] == "message.status"),
        key=lambda data: data["status_code"],
    )
    assert [data["status"] for data in statuses] == ["Sending", "Sent", "Delivered", "Read"]
    created = [data["created"] for data in statuses]
    assert created == sorted(created), created
    # Sending and sent are Kurir's own (Meta accepted the send); the rest are Meta's times.
    assert created[1] <= t0
    assert created[2:] == [t0 + 1, t0 + 2]
    [reply] = [b["data"] for b in bodies if b["event"] == "message.reply"]
    assert (reply["button_index"], reply["button_label"]) == (2, "Opsi 2")
    assert reply["created"] == t0 + 3 >= created[-1]
