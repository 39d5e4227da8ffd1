"""An endpoint's delivery log and redelivery through a real ``kurir serve``, and who sees them.

The deliveries are written into the database as the event writers and the
delivery workers leave them; the server has no dispatcher, so they stay as
written until the API changes them.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.domain.events import DeliveryStatus
from tests.e2e.webhooks_support import create, error, in_database
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess
from tests.support.webhook_rows import Attempt, add_delivery, delivery_row

DEAD, DELIVERED = DeliveryStatus.DEAD, DeliveryStatus.DELIVERED
HOUR_MS = 3600 * 1000


class Account:
    """A tenant with an endpoint on the API-only server, and a client of its own."""

    def __init__(self, server: KurirProcess) -> None:
        self.server = server
        self.tenant = provision_tenant(server.database_url)
        self.http = server.client(self.tenant.api_key)
        self.webhook = create(self.http)["id"]

    def deliveries(self, *specs: tuple[int, DeliveryStatus, tuple[Attempt, ...]]) -> list[str]:
        def add(connection: Connection) -> list[str]:
            return [
                add_delivery(
                    connection,
                    endpoint_public_id=self.webhook,
                    device_public_id=self.tenant.device_id,
                    event_at=event_at,
                    status=status,
                    attempts=attempts,
                )
                for event_at, status, attempts in specs
            ]

        return in_database(self.server.database_url, add)

    def row(self, delivery: str) -> Any:
        return in_database(self.server.database_url, lambda c: delivery_row(c, delivery))


@pytest.fixture
def owner(api_only_server: KurirProcess) -> Iterator[Account]:
    account = Account(api_only_server)
    try:
        yield account
    finally:
        account.http.close()


@pytest.fixture
def intruder(api_only_server: KurirProcess) -> Iterator[Account]:
    account = Account(api_only_server)
    try:
        yield account
    finally:
        account.http.close()


def test_the_log_shows_each_delivery_with_its_event_and_attempts(owner: Account) -> None:
    now = now_ms()
    failed, delivered = owner.deliveries(
        (
            now - 2 * HOUR_MS,
            DEAD,
            (
                Attempt(now - 2 * HOUR_MS + 50, 503, latency_ms=84, response="busy"),
                Attempt(now - HOUR_MS, None, latency_ms=10_000, error="no answer within 10 s"),
            ),
        ),
        (now - HOUR_MS, DELIVERED, (Attempt(now - HOUR_MS + 70, 200, latency_ms=61),)),
    )
    answer = owner.http.get(f"/webhooks/{owner.webhook}/deliveries").json()
    assert answer["status"] == "ok"
    assert answer["next_cursor"] is None
    assert [d["id"] for d in answer["data"]] == [delivered, failed]
    newest, oldest = answer["data"]
    assert (newest["status"], newest["event"], newest["next_attempt_at"]) == (
        "delivered",
        "message.status",
        None,
    )
    assert newest["delivered_at"] == newest["attempts"][0]["attempted_at"]
    assert oldest["payload"] == {
        "event": "message.status",
        "device": owner.tenant.device_id,
        "data": {"created": (now - 2 * HOUR_MS) // 1000},
    }
    assert [
        (a["status_code"], a["latency_ms"], a["error"], a["response"]) for a in oldest["attempts"]
    ] == [(503, 84, None, "busy"), (None, 10_000, "no answer within 10 s", "")]
    one = owner.http.get(f"/webhooks/{owner.webhook}/deliveries/{failed}").json()
    assert one == {"status": "ok", "data": oldest}
    view = owner.http.get(f"/webhooks/{owner.webhook}").json()["data"]
    assert (view["pending_deliveries"], view["dead_deliveries"]) == (0, 1)


def test_the_log_pages_and_filters(owner: Account) -> None:
    now = now_ms()
    statuses = [DEAD, DELIVERED, DEAD, DELIVERED, DEAD]
    made = owner.deliveries(*((now - n * 1000, status, ()) for n, status in enumerate(statuses)))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = owner.http.get(f"/webhooks/{owner.webhook}/deliveries", params=params).json()
        seen += [d["id"] for d in page["data"]]
        if page["next_cursor"] is None:
            break
        params["before"] = page["next_cursor"]
    assert seen == made  # made newest first
    dead = owner.http.get(f"/webhooks/{owner.webhook}/deliveries", params={"status": "dead"})
    assert [d["id"] for d in dead.json()["data"]] == [made[0], made[2], made[4]]
    path = f"/webhooks/{owner.webhook}/deliveries"
    error(
        owner.http.get(path, params={"limit": 101}),
        422,
        "limit must be a whole number from 1 to 100",
    )
    error(
        owner.http.get(path, params={"before": "yesterday"}),
        422,
        "before must be a cursor from a previous answer",
    )
    error(
        owner.http.get(path, params={"status": "failed"}),
        422,
        "status must be one of pending, delivering, delivered, dead",
    )


def test_one_delivery_is_sent_again_and_keeps_its_log(owner: Account) -> None:
    now = now_ms()
    attempts = (Attempt(now - 30 * HOUR_MS, 500), Attempt(now - 26 * HOUR_MS, 500))
    (dead,) = owner.deliveries((now - 30 * HOUR_MS, DEAD, attempts))
    response = owner.http.post(f"/webhooks/{owner.webhook}/redeliver", json={"delivery": dead})
    assert response.json() == {"status": "ok", "data": {"redelivered": 1}}, response.text
    shown = owner.http.get(f"/webhooks/{owner.webhook}/deliveries/{dead}").json()["data"]
    assert shown["status"] == "pending"
    assert len(shown["attempts"]) == 2
    row = owner.row(dead)
    assert (row.status, row.attempts) == ("pending", 0)
    assert now <= row.due_at <= now_ms()
    # A whole deadline from the redelivery, not from the event long ago.
    assert row.deadline_at - row.due_at == 24 * HOUR_MS
    view = owner.http.get(f"/webhooks/{owner.webhook}").json()["data"]
    assert (view["pending_deliveries"], view["dead_deliveries"]) == (1, 0)


def test_the_dead_since_a_time_are_sent_again(owner: Account) -> None:
    now = now_ms()
    older, newer, delivered = owner.deliveries(
        (now - 10 * HOUR_MS, DEAD, ()),
        (now - 2 * HOUR_MS, DEAD, ()),
        (now - HOUR_MS, DELIVERED, ()),
    )
    since = (now - 5 * HOUR_MS) // 1000
    path = f"/webhooks/{owner.webhook}/redeliver"
    assert owner.http.post(path, json={"since": since}).json()["data"] == {"redelivered": 1}
    assert [owner.row(d).status for d in (older, newer, delivered)] == [
        "dead",
        "pending",
        "delivered",
    ]
    # A form's since, as ISO 8601 with an offset.
    iso = "1970-01-01T07:00:00+07:00"
    assert owner.http.post(path, data={"since": iso}).json()["data"] == {"redelivered": 1}
    assert owner.row(older).status == "pending"


def test_what_cannot_be_redelivered_is_refused(owner: Account) -> None:
    now = now_ms()
    holding, dead = owner.deliveries(
        (now, DeliveryStatus.DELIVERING, ()), (now - HOUR_MS, DEAD, ())
    )
    path = f"/webhooks/{owner.webhook}/redeliver"
    error(
        owner.http.post(path, json={"delivery": holding}),
        409,
        f"delivery {holding} is being delivered now; redeliver it once that is done",
    )
    error(owner.http.post(path, json={}), 422, "delivery or since is required")
    error(
        owner.http.post(path, json={"delivery": dead, "since": 0}),
        422,
        "give delivery or since, not both",
    )
    error(
        owner.http.post(path, json={"since": "last week"}),
        422,
        "since must be Unix seconds or an ISO 8601 time (for example "
        "2026-05-04T09:30:00+07:00), got 'last week'",
    )
    error(
        owner.http.post(path, json={"since": 1.5}),
        422,
        "since must be Unix seconds or an ISO 8601 time",
    )
    error(
        owner.http.post(path, json={"delivery": "msg_nope"}), 404, "delivery 'msg_nope' not found"
    )
    owner.http.patch(f"/webhooks/{owner.webhook}", json={"enabled": False})
    disabled = f"webhook {owner.webhook} is disabled; enable it before redelivering"
    error(owner.http.post(path, json={"delivery": dead}), 409, disabled)
    error(owner.http.post(path, json={"since": 0}), 409, disabled)
    assert owner.row(dead).status == "dead"


def _every_route(webhook: str, delivery: str) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/webhooks/{webhook}"
    return [
        ("GET", base, {}),
        ("PATCH", base, {"json": {"enabled": False}}),
        ("DELETE", base, {}),
        ("POST", f"{base}/rotate-secret", {}),
        ("GET", f"{base}/deliveries", {}),
        ("POST", f"{base}/redeliver", {"json": {"since": 0}}),
    ]


def test_another_accounts_endpoint_and_deliveries_are_not_found_on_any_route(
    owner: Account, intruder: Account
) -> None:
    (delivery,) = owner.deliveries((now_ms(), DEAD, ()))
    before = owner.http.get(f"/webhooks/{owner.webhook}").json()
    for method, path, options in _every_route(owner.webhook, delivery):
        theirs = intruder.http.request(method, path, **options)
        missing = intruder.http.request(
            method, path.replace(owner.webhook, "wh_missing"), **options
        )
        assert theirs.status_code == missing.status_code == 404, (method, path)
        error(theirs, 404, f"webhook {owner.webhook!r} not found")
    # A delivery: under their endpoint, under the intruder's own, or redelivered by id.
    for path in (
        f"/webhooks/{owner.webhook}/deliveries/{delivery}",
        f"/webhooks/{intruder.webhook}/deliveries/{delivery}",
    ):
        error(intruder.http.get(path), 404, f"delivery {delivery!r} not found")
    redeliver = intruder.http.post(
        f"/webhooks/{intruder.webhook}/redeliver", json={"delivery": delivery}
    )
    error(redeliver, 404, f"delivery {delivery!r} not found")
    assert [w["id"] for w in intruder.http.get("/webhooks").json()["data"]] == [intruder.webhook]
    # Nothing of the owner's changed.
    assert owner.http.get(f"/webhooks/{owner.webhook}").json() == before
    assert owner.row(delivery).status == "dead"


def test_a_request_without_a_key_is_refused_on_every_route(
    api_only_server: KurirProcess, owner: Account
) -> None:
    (delivery,) = owner.deliveries((now_ms(), DEAD, ()))
    routes = [
        ("GET", "/webhooks", {}),
        ("POST", "/webhooks", {"json": {}}),
        ("GET", f"/webhooks/{owner.webhook}/deliveries/{delivery}", {}),
        *_every_route(owner.webhook, delivery),
    ]
    with httpx.Client(base_url=api_only_server.base_url) as anonymous:
        for method, path, options in routes:
            error(anonymous.request(method, path, **options), 401, "Unauthorized")
