"""Helpers for the end-to-end webhook tests with a real receiver: register, wait, count.

The servers of these tests deliver to a `tests.support.receiver.Receiver` on
loopback (hence ``KURIR_ALLOW_PRIVATE_URLS``), and retry a refused delivery
within a second instead of Kurir's 5 s to an hour, so an outage ends quickly.
"""

from collections import Counter
from typing import Any

import httpx

from kurir.domain.events import EVENTS
from tests.support.gateway import wait_for
from tests.support.receiver import Received, Receiver

#: Settings of every server here: loopback receivers, quick retries, short attempts.
DELIVERING_ENV = {
    "KURIR_ALLOW_PRIVATE_URLS": "true",
    "KURIR_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "KURIR_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "KURIR_WEBHOOK_TIMEOUT_SECONDS": "3",
}

#: Long enough for a loaded machine; the waits end as soon as what they wait for is there.
WAIT_S = 90.0


def register(http: httpx.Client, receiver: Receiver, events: tuple[str, ...] = EVENTS) -> str:
    """POST /webhooks for ``receiver``; gives the receiver its secret, returns the endpoint's id."""
    response = http.post("/webhooks", json={"url": receiver.url, "events": list(events)})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    receiver.secret = data["secret"]
    endpoint_id: str = data["id"]
    return endpoint_id


def endpoint(http: httpx.Client, endpoint_id: str) -> dict[str, Any]:
    response = http.get(f"/webhooks/{endpoint_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def kind(item: Received) -> tuple[str, str, str]:
    """What one delivery tells: (event, message id, status or button or type)."""
    data = item.body["data"]
    detail = data.get("status") or data.get("button_label") or data.get("type") or ""
    return item.event, data.get("message_id", ""), str(detail)


def status_kinds(
    message_ids: list[str], statuses: tuple[str, ...]
) -> Counter[tuple[str, str, str]]:
    """Each of ``message_ids`` told once in each of ``statuses``."""
    return Counter(("message.status", m, s) for m in message_ids for s in statuses)


def wait_for_kinds(
    receiver: Receiver, expected: Counter[tuple[str, str, str]], *, what: str
) -> list[Received]:
    """Until the receiver holds every expected delivery (under distinct webhook-ids)."""

    def check() -> list[Received] | None:
        got = _by_id(receiver.snapshot())
        counted = Counter(kind(item) for item in got.values() if item.event != "device.state")
        return list(got.values()) if counted >= expected else None

    try:
        return wait_for(check, timeout=WAIT_S, what=what)
    except AssertionError as error:
        missing = expected - message_kinds(receiver)
        raise AssertionError(
            f"{error}; missing {dict(missing)}; refused {receiver.refused}"
        ) from None


def _by_id(items: list[Received]) -> dict[str, Received]:
    return {item.webhook_id: item for item in items}


def message_kinds(receiver: Receiver) -> Counter[tuple[str, str, str]]:
    """What arrived about messages, each webhook-id counted once."""
    got = _by_id(receiver.snapshot()).values()
    return Counter(kind(item) for item in got if item.event != "device.state")


def repeats(receiver: Receiver) -> dict[str, int]:
    """webhook-ids that arrived more than once, with how often; each time with the same body."""
    items = receiver.snapshot()
    first = _by_id(list(reversed(items)))
    for item in items:
        assert item.body == first[item.webhook_id].body, f"{item.webhook_id} changed its body"
    return {wid: n for wid, n in receiver.ids().items() if n > 1}
