"""Broadcasts end to end: real ``kurir serve`` processes, the sandbox as WhatsApp, real HTTP.

A broadcast's messages are planned over time, so each test keeps its
intervals short; the long one (50 recipients, 0 to 1 s apart, as the issue
asks) runs on SQLite only.
"""

import asyncio
import base64
import itertools
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from kurir.clock import now_ms
from kurir.domain.broadcast import BROADCAST_CANCELLED
from kurir.store import Store, accounts
from kurir.store.contacts import opt_out_if_stop
from tests.e2e.contract import JAKARTA, assert_error
from tests.support.gateway import at, delivered, deliveries, running, wait_for
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess

GREETINGS = ("Halo", "Hai", "Selamat pagi")
OFFERS = ("promo", "diskon")
WHEN = ("hari ini", "minggu ini")
TEMPLATE = "{Halo|Hai|Selamat pagi} {name}, {promo|diskon} {opt1} {hari ini|minggu ini}!"


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/broadcast/create", json={"device": "default", "title": "T", **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def get(http: httpx.Client, broadcast_id: str) -> dict[str, Any]:
    response = http.get(f"/broadcast/{broadcast_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def messages_of(http: httpx.Client, broadcast_id: str) -> list[dict[str, Any]]:
    """Every message of the broadcast, oldest first, paging through GET /messages."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"broadcast": broadcast_id, "limit": 20}
    while True:
        page = http.get("/messages", params=params).json()
        found.extend(page["data"])
        if page["next_cursor"] is None:
            return found[::-1]
        params["before"] = page["next_cursor"]


def phones(count: int, start: int = 0) -> list[str]:
    return [f"0812{n:08d}" for n in range(start, start + count)]


def international(national: str) -> str:
    return "62" + national[1:]


# -- the long one -------------------------------------------------------------------------------


def test_fifty_receivers_spun_and_filled_all_delivered_a_random_second_apart(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    numbers = phones(50)
    with running(sqlite_database_url, tmp_path) as server, server.client() as http:
        # Half are contacts (their fields fill the placeholders), half bring their own.
        contacts = [
            {"phone": n, "name": f"Kontak{i}", "opt1": f"K{i}"} for i, n in enumerate(numbers[:25])
        ]
        made = http.post("/customer/create", json={"customers": contacts, "group": "vip"})
        assert made.json()["total_customer"] == "25", made.text
        receiver = [{"phone": n, "message": TEMPLATE} for n in numbers[:25]] + [
            {"phone": n, "message": TEMPLATE, "name": f"Tamu{i}", "opt1": f"T{i}"}
            for i, n in enumerate(numbers[25:], start=25)
        ]
        answer = create(http, receiver=receiver, interval_from=0, interval_to=1)
        assert answer["total_receiver"] == 50
        broadcast_id = answer["broadcast_id"]
        got = delivered(http, server.device_id, 50, timeout=60)
        listed = messages_of(http, broadcast_id)
        data = get(http, broadcast_id)

    assert data["state"] == "completed"
    assert data["totals"]["delivered"] == 50
    assert [m["to"] for m in listed] == [international(n) for n in numbers]
    texts = {d["to"]: d["content"]["message"] for d in got}
    assert len(texts) == 50  # each delivered once
    chosen = set()
    for index, number in enumerate(numbers):
        name, option = (
            (f"Kontak{index}", f"K{index}") if index < 25 else (f"Tamu{index}", f"T{index}")
        )
        match = re.fullmatch(
            rf"({'|'.join(GREETINGS)}) {name}, ({'|'.join(OFFERS)}) {option} "
            rf"({'|'.join(WHEN)})!",
            texts[international(number)],
        )
        assert match is not None, texts[international(number)]
        chosen.add(match.groups())
    # 12 ways to say it, 50 draws: a fair spin shows most of them.
    assert len(chosen) >= 6, chosen
    # Planned 0 to 1 s apart, in the receivers' order.
    due = [at(m["scheduled_for"]) for m in listed]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(due)]
    assert all(0 <= gap <= 1 for gap in gaps), gaps
    assert 5 < sum(gaps) < 45  # random, not all 0 nor all 1


# -- plan: window, pause, resume, cancel, crash -------------------------------------------------


def test_a_window_that_excludes_now_sends_nothing_until_it_opens(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    with running(sqlite_database_url, tmp_path) as server, server.client() as http:
        # A few seconds from now, once the server is up (starting it may take a while).
        opens = (datetime.now(JAKARTA) + timedelta(seconds=3)).replace(microsecond=0)
        closes = opens + timedelta(hours=1)
        answer = create(
            http,
            receiver=[{"phone": n, "message": "Halo"} for n in phones(5)],
            interval_from=0,
            interval_to=0,
            active_start=opens.strftime("%H:%M:%S"),
            active_end=closes.strftime("%H:%M:%S"),
        )
        data = get(http, answer["broadcast_id"])
        assert at(data["next_send_at"]) == opens
        assert data["state"] == "running"
        time.sleep(max(0.0, (opens - datetime.now(JAKARTA)).total_seconds() - 0.5))
        assert deliveries(http, server.device_id) == []
        got = delivered(http, server.device_id, 5, timeout=10)
    assert min(at(d["delivered_at"]) for d in got) >= opens


def test_pause_resume_and_cancel_mid_way(database_url: str, tmp_path: Path) -> None:
    with running(database_url, tmp_path) as server, server.client() as http:
        answer = create(
            http,
            receiver=[{"phone": n, "message": "{Halo|Hai}"} for n in phones(30)],
            interval_from=0.2,
            interval_to=0.2,
        )
        broadcast_id = answer["broadcast_id"]
        delivered(http, server.device_id, 3, timeout=10)
        paused = http.post(f"/broadcast/{broadcast_id}/pause").json()
        assert (paused["message"], paused["state"]) == ("Broadcast paused", "paused")
        at_pause = len(deliveries(http, server.device_id))
        time.sleep(1.0)
        # A send under way when it paused may still finish; nothing after it.
        assert len(deliveries(http, server.device_id)) <= at_pause + 1
        data = get(http, broadcast_id)
        assert (data["state"], data["next_send_at"]) == ("paused", None)
        # Each message names its broadcast; a held one has no due time to show.
        waiting = [m for m in messages_of(http, broadcast_id) if m["status"] == "scheduled"]
        assert waiting
        assert {(m["broadcast"], m["scheduled_for"]) for m in waiting} == {(broadcast_id, None)}
        held = http.get(f"/message/{waiting[0]['message_id']}").json()["data"]
        assert (held["broadcast"], held["scheduled_for"]) == (broadcast_id, None)

        assert http.post(f"/broadcast/{broadcast_id}/resume").json()["state"] == "running"
        delivered(http, server.device_id, at_pause + 3, timeout=10)
        cancelled = http.post(f"/broadcast/{broadcast_id}/cancel").json()
        assert cancelled["state"] == "cancelled"
        time.sleep(0.5)  # what was being sent settles
        data = get(http, broadcast_id)
        listed = messages_of(http, broadcast_id)
        sent = len(deliveries(http, server.device_id))
        refused = http.post(f"/broadcast/{broadcast_id}/resume")

    assert_error(
        refused, 409, f"broadcast {broadcast_id} is cancelled; it can no longer be resumed"
    )
    totals = data["totals"]
    assert totals["delivered"] == sent
    assert totals["failed"] == 30 - sent
    assert 5 <= sent < 30
    failed = [m for m in listed if m["status"] == "failed"]
    assert {m["last_error"] for m in failed} == {BROADCAST_CANCELLED}


def test_kill_9_mid_way_and_a_restart_lose_nothing_and_send_nothing_twice(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    tenant = provision_tenant(sqlite_database_url, transport_config='{"latency_ms": 50}')
    env = {"KURIR_MESSAGE_LEASE_SECONDS": "1", "KURIR_DEVICE_LEASE_SECONDS": "1"}
    first = KurirProcess(sqlite_database_url, tmp_path, env=env).start()
    try:
        with first.client(tenant.api_key) as http:
            answer = create(
                http,
                device=tenant.device_id,
                receiver=[
                    {"phone": n, "message": "Halo {name}", "name": "kak"} for n in phones(30)
                ],
                interval_from=0.1,
                interval_to=0.1,
            )
            delivered(http, tenant.device_id, 8, timeout=10)
    finally:
        first.kill()
    second = KurirProcess(sqlite_database_url, tmp_path, env=env).start()
    try:
        with second.client(tenant.api_key) as http:
            got = delivered(http, tenant.device_id, 30, timeout=20)
            data = wait_for(
                lambda: (d := get(http, answer["broadcast_id"]))["state"] == "completed" and d,
                timeout=10,
                what="the broadcast to complete",
            )
    finally:
        second.stop()
    assert data["totals"]["delivered"] == 30
    assert sorted(d["to"] for d in got) == sorted(international(n) for n in phones(30))
    # Sent again only what the kill cut off: one message, once more at most.
    assert sum(d["sends"] for d in got) <= 31


# -- refusals, opt-outs, ownership (the shared server) ------------------------------------------


def test_bad_numbers_spintax_and_files_are_refused_naming_each(http: httpx.Client) -> None:
    response = http.post(
        "/broadcast/create",
        json={
            "device": "default",
            "title": "T",
            "receiver": [
                {"phone": "0811", "message": "Halo"},
                {"phone": "08123456789", "message": "{Halo|Hai kak"},
                {"phone": "08123456788", "message": "Halo {nama}"},
                {"phone": "08123456787", "message": "Halo"},
            ],
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "error"
    assert body["invalid"] == [
        {"index": 0, "phone": "0811", "reason": "phone is not a valid phone number: '0811'"},
        {
            "index": 1,
            "phone": "08123456789",
            "reason": "message: unbalanced '{' (no '}' closes it) at position 1",
        },
        {
            "index": 2,
            "phone": "08123456788",
            "reason": "message: unknown placeholder {nama} (known: name, opt1, opt2, opt3, "
            "opt4, opt5, opt6, opt7) at position 6",
        },
    ]
    assert body["message"].startswith("3 receivers are invalid: receiver[0] ('0811'): ")

    bad_file = http.post(
        "/broadcast/create",
        json={
            "device": "default",
            "title": "T",
            "type": "media",
            "media_base64": "not base64!",
            "receiver": [{"phone": "08123456787"}],
        },
    )
    assert_error(bad_file, 422, "media_base64 is not valid base64")
    not_an_image = base64.b64encode(b"GIF89a....").decode()
    assert (
        http.post(
            "/broadcast/create",
            json={
                "device": "default",
                "title": "T",
                "type": "media",
                "media_base64": not_an_image,
                "receiver": [{"phone": "08123456787"}],
            },
        )
        .json()["message"]
        .startswith("media_base64 is not a JPEG or PNG image")
    )
    # With skip_invalid the good one goes, the rest are counted.
    skipped = http.post(
        "/broadcast/create",
        json={
            "device": "default",
            "title": "T",
            "skip_invalid": True,
            "receiver": [
                {"phone": "0811", "message": "Halo"},
                {"phone": "08123456787", "message": "Halo"},
                {"phone": "+62 812-3456-787", "message": "Halo lagi"},
            ],
        },
    ).json()
    assert (skipped["total_receiver"], skipped["total_invalid"], skipped["total_duplicate"]) == (
        1,
        1,
        1,
    )


def test_a_media_broadcast_sends_its_stored_file(
    http: httpx.Client, shared_server: KurirProcess
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    answer = create(
        http,
        type="media",
        media_base64="data:image/png;base64," + base64.b64encode(png).decode(),
        caption="{Promo|Diskon} {name}",
        receiver=[{"phone": "08129990001", "name": "Budi"}],
        interval_from=0,
        interval_to=0,
    )
    [message] = messages_of(http, answer["broadcast_id"])
    wait_for(
        lambda: (
            http.get(f"/message/{message['message_id']}").json()["data"]["status"] == "delivered"
        ),
        timeout=10,
        what="the media message to be delivered",
    )
    sent = [
        d
        for d in deliveries(http, shared_server.device_id)
        if d["message_id"] == message["message_id"]
    ]
    assert sent[0]["content"]["type"] == "image"
    assert sent[0]["content"]["caption"] in ("Promo Budi", "Diskon Budi")


def test_an_opted_out_contact_is_skipped(http: httpx.Client, shared_server: KurirProcess) -> None:
    stopped, listening = "08129990101", "08129990102"
    made = http.post(
        "/customer/create",
        json={
            "customers": [{"phone": stopped, "name": "A"}, {"phone": listening, "name": "B"}],
            "group": "opt-out-test",
        },
    )
    assert made.status_code == 200, made.text
    # What the inbound path does with a STOP reply (see kurir.store.contacts).
    _opt_out(shared_server.database_url, international(stopped))
    answer = create(
        http, group="opt-out-test", message="Halo {name}", interval_from=0, interval_to=0
    )
    assert (answer["total_receiver"], answer["total_opted_out"]) == (1, 1)
    [message] = messages_of(http, answer["broadcast_id"])
    assert message["to"] == international(listening)
    listed = http.get("/customer/list", params={"group": "opt-out-test"}).json()["data"]
    assert {c["phone"]: c["opted_out"] for c in listed} == {
        international(stopped): True,
        international(listening): False,
    }


def _opt_out(database_url: str, phone: str) -> None:
    """``phone`` answers the bootstrap account's devices with STOP."""

    def write(connection: Connection) -> None:
        account = accounts.find_account(connection, "default")
        assert account is not None
        assert opt_out_if_stop(connection, account.id, phone, "STOP", now=now_ms())

    async def run() -> None:
        store = Store(database_url, pool_size=1)
        try:
            await store.database.write(write)
        finally:
            await store.close()

    asyncio.run(run())


def test_another_accounts_broadcast_is_not_found(
    http: httpx.Client, shared_server: KurirProcess
) -> None:
    answer = create(http, receiver=[{"phone": "08129990201", "message": "Halo"}])
    other = provision_tenant(shared_server.database_url)
    with shared_server.client(other.api_key) as theirs:
        broadcast_id = answer["broadcast_id"]
        for response in (
            theirs.get(f"/broadcast/{broadcast_id}"),
            theirs.post(f"/broadcast/{broadcast_id}/pause"),
            theirs.post(f"/broadcast/{broadcast_id}/cancel"),
            theirs.get("/messages", params={"broadcast": broadcast_id}),
        ):
            assert_error(response, 404, f"broadcast '{broadcast_id}' not found")
        assert theirs.get("/broadcast/list").json()["data"] == []


@pytest.mark.parametrize("path", ["/broadcast/0000000000000000", "/broadcast/nope"])
def test_a_missing_broadcast_is_not_found(http: httpx.Client, path: str) -> None:
    assert http.get(path).status_code == 404


def test_a_php_form_with_nested_receivers_is_read_as_json_is(http: httpx.Client) -> None:
    form = {
        "device": "default",
        "title": "Form",
        "interval_from": "0",
        "interval_to": "0",
        "skip_invalid": "false",
        "receiver[0][phone]": "08129990301",
        "receiver[0][message]": "{Halo|Hai} {name}",
        "receiver[0][name]": "Budi",
        "receiver[1][phone]": "08129990302",
        "receiver[1][message]": "Halo",
    }
    answer = http.post("/broadcast/create", data=form).json()
    assert answer["total_receiver"] == 2, answer
    listed = messages_of(http, answer["broadcast_id"])
    assert listed[0]["content"]["message"] in ("Halo Budi", "Hai Budi")
    refused = http.post("/broadcast/create", data={**form, "receiver[1][phone]": "12"})
    assert refused.status_code == 422
    assert refused.json()["invalid"][0]["index"] == 1


def test_customers_are_added_listed_updated_and_removed(http: httpx.Client) -> None:
    group = f"g-{time.monotonic_ns()}"
    first = http.post(
        "/customer/create",
        json={
            "group": group,
            "customers": [
                {"phone": "08129990401", "name": "Budi", "opt1": "VIP"},
                {"phone": "+62 812-9990-402", "name": "Sari"},
                {"phone": "0812-9990-401", "name": "Budi lagi"},
            ],
        },
    ).json()
    assert (first["total_customer"], first["group"], first["total_duplicate"]) == ("2", group, 1)
    again = http.post(
        "/customer/create",
        json={
            "group": group,
            "generate_prefix_number": "no",
            "filter_duplicate": "no",
            "customers": [{"phone": "628129990401", "name": "Pak Budi"}],
        },
    ).json()
    assert (again["total_customer"], again["total_updated"]) == ("1", 1)
    national = http.post(
        "/customer/create",
        json={"group": group, "generate_prefix_number": "no", "customers": [{"phone": "0812999"}]},
    )
    assert national.status_code == 422
    assert national.json()["invalid"][0]["reason"].startswith("phone is not an international")
    listed = http.get("/customer/list", params={"group": group, "limit": 1}).json()
    assert [c["phone"] for c in listed["data"]] == ["628129990402"]
    older = http.get(
        "/customer/list", params={"group": group, "before": listed["next_cursor"]}
    ).json()
    assert [(c["name"], c["opt1"]) for c in older["data"]] == [("Pak Budi", "")]
    removed = http.delete("/customer/0812-9990-401").json()
    assert (removed["phone"], removed["deleted"]) == ("628129990401", 1)
    assert_error(http.delete("/customer/628129990401"), 404, "customer 628129990401 not found")


def test_a_retry_with_the_idempotency_key_creates_nothing_twice(http: httpx.Client) -> None:
    body = {
        "device": "default",
        "title": "Once",
        "date_execute": (datetime.now(JAKARTA) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "receiver": [{"phone": "08129990501", "message": "Halo"}],
    }
    key = {"Idempotency-Key": f"once-{time.monotonic_ns()}"}
    first = http.post("/broadcast/create", json=body, headers=key).json()
    again = http.post("/broadcast/create", json=body, headers=key).json()
    assert again == first
    other = http.post("/broadcast/create", json={**body, "title": "Twice"}, headers=key)
    assert_error(
        other,
        409,
        "Idempotency-Key was already used for a different request "
        f"(broadcast {first['broadcast_id']})",
    )
    assert len(messages_of(http, first["broadcast_id"])) == 1
    assert get(http, first["broadcast_id"])["state"] == "scheduled"


def test_only_the_broadcast_endpoint_takes_bodies_over_64_kib(http: httpx.Client) -> None:
    many = [{"phone": n, "message": "Halo " + "x" * 60} for n in phones(1000, start=600_000)]
    later = (datetime.now(JAKARTA) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    big = {"device": "default", "title": "Big", "date_execute": later, "receiver": many}
    assert len(httpx.Request("POST", "/", json=big).content) > 64 * 1024
    assert create(http, **{k: v for k, v in big.items() if k != "device"})["total_receiver"] == 1000
    customers = [{"phone": n, "name": "x" * 60} for n in phones(1000, start=600_000)]
    refused = http.post("/customer/create", json={"customers": customers})
    assert_error(refused, 413, "Request body is larger than 65536 bytes")
