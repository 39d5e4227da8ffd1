"""Delivery attempts to real receivers on loopback, which check signatures as receivers do.

Each receiver verifies with the Standard Webhooks library on the raw body it
received, and answers 401 when the signature does not hold, so "delivered"
means "delivered and verified".
"""

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Iterable

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from kurir.clock import now_ms
from kurir.domain.events import MessageStatusEvent, payload
from kurir.domain.retry import DeliveryRetryPolicy
from kurir.domain.status import MessageStatus
from kurir.egress import Egress
from kurir.webhooks.attempt import USER_AGENT, AttemptOutcome, Verdict, attempt_delivery
from kurir.webhooks.signing import new_secret
from tests.support.origin import Handler, Origin, Received, answer, never_answer, redirect

SECRET = new_secret()
BODY = payload(
    MessageStatusEvent(
        device="888111222133155555",
        message_id="3EB0018F2A6B1C00D2F1",
        status=MessageStatus.READ,
        at=1734657859_000,
    )
)
MSG_ID = "msg_3EB0018F2A6B1C00D2F1_1"


def receiver(
    secret: str, status: int = 200, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
) -> Handler:
    """An endpoint that checks the signature with ``secret``, then answers ``status``."""

    async def handle(request: Received, writer: asyncio.StreamWriter) -> None:
        try:
            Webhook(secret).verify(request.body, request.headers)
        except WebhookVerificationError as error:
            await answer(writer, 401, str(error).encode())
            return
        await answer(writer, status, body, headers)

    return handle


async def deliver(
    egress: Egress, url: str, secrets: list[str] | None = None, *, total: float = 10.0
) -> AttemptOutcome:
    return await attempt_delivery(
        egress,
        url=url,
        secrets=secrets or [SECRET],
        msg_id=MSG_ID,
        body=BODY,
        connect_timeout=5.0,
        total_timeout=total,
    )


@pytest.fixture
async def egress() -> AsyncIterator[Egress]:
    """Private addresses allowed, so loopback receivers can be reached."""
    async with Egress(allow_private=True) as opened:
        yield opened


async def test_a_2xx_from_a_verifying_receiver_is_delivered(egress: Egress) -> None:
    before = now_ms()
    async with Origin({"/hooks": receiver(SECRET, 200, b'{"ok":true}')}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert outcome.verdict == Verdict.DELIVERED
    assert (outcome.status_code, outcome.response, outcome.error) == (200, '{"ok":true}', None)
    assert outcome.retry_after_seconds is None
    assert before <= outcome.attempted_at <= now_ms()
    assert 0 <= outcome.latency_ms < 5000
    [request] = origin.received
    assert (request.method, request.body) == ("POST", BODY)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("Kurir-Webhooks/")
    assert request.headers["webhook-id"] == MSG_ID
    assert request.headers["webhook-timestamp"] == str(outcome.attempted_at // 1000)


@pytest.mark.parametrize("known", ["new", "old"])
async def test_during_a_rotation_a_receiver_knowing_either_secret_accepts(
    egress: Egress, known: str
) -> None:
    new, old = new_secret(), new_secret()
    async with Origin({"/hooks": receiver(new if known == "new" else old, 204)}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"), [new, old])
    assert (outcome.verdict, outcome.status_code) == (Verdict.DELIVERED, 204)


async def test_a_receiver_with_another_secret_refuses_and_that_is_final(egress: Egress) -> None:
    async with Origin({"/hooks": receiver(new_secret())}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert (outcome.verdict, outcome.status_code) == (Verdict.FINAL, 401)
    assert outcome.response == "No matching signature found"


async def test_every_attempt_of_a_delivery_has_its_id_and_its_own_timestamp(
    egress: Egress,
) -> None:
    async with Origin({"/hooks": receiver(SECRET, 500)}) as origin:
        first = await deliver(egress, origin.url("/hooks"))
        second = await deliver(egress, origin.url("/hooks"))
    assert {request.headers["webhook-id"] for request in origin.received} == {MSG_ID}
    stamps = [int(request.headers["webhook-timestamp"]) for request in origin.received]
    assert stamps == [first.attempted_at // 1000, second.attempted_at // 1000]


async def test_410_gone_is_final_and_the_error_hides_credentials_and_query(
    egress: Egress,
) -> None:
    async with Origin({"/hooks": receiver(SECRET, 410, b"gone")}) as origin:
        url = f"http://kurir:s3cret@127.0.0.1:{origin.port}/hooks?token=hunter2"
        outcome = await deliver(egress, url)
    assert outcome.verdict == Verdict.FINAL
    assert outcome.status_code == 410
    assert outcome.error == f"http://127.0.0.1:{origin.port}/hooks: answered 410 Gone"
    assert outcome.response == "gone"
    assert origin.received[0].path == "/hooks?token=hunter2"


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (400, Verdict.FINAL),
        (404, Verdict.FINAL),
        (408, Verdict.RETRY),
        (409, Verdict.RETRY),
        (425, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
    ],
)
async def test_an_answer_is_retried_when_it_means_not_now(
    egress: Egress, status: int, verdict: Verdict
) -> None:
    async with Origin({"/hooks": receiver(SECRET, status)}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert (outcome.verdict, outcome.status_code) == (verdict, status)
    assert f"answered {status} " in str(outcome.error)
    assert outcome.retry_after_seconds is None


@pytest.mark.parametrize(
    ("status", "retry_after", "seconds"),
    [(500, None, None), (503, "120", 120), (429, "120", 120), (429, None, None)],
)
async def test_503_and_429_retry_no_sooner_than_retry_after(
    egress: Egress, status: int, retry_after: str | None, seconds: int | None
) -> None:
    headers = [("Retry-After", retry_after)] if retry_after else []
    async with Origin({"/hooks": receiver(SECRET, status, headers=headers)}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert (outcome.verdict, outcome.retry_after_seconds) == (Verdict.RETRY, seconds)
    now = now_ms()
    next_at = DeliveryRetryPolicy().next_attempt_at(
        attempts=1,
        event_at=outcome.attempted_at,
        now=now,
        retry_after_seconds=outcome.retry_after_seconds,
        rng=random.Random(0),
    )
    assert next_at is not None
    assert next_at >= now + (seconds or 0) * 1000
    assert next_at <= now + max(5, seconds or 0) * 1000


async def test_an_http_date_retry_after_is_read_against_the_clock(egress: Egress) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 600))
    async with Origin({"/hooks": receiver(SECRET, 503, headers=[("Retry-After", when)])}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert outcome.retry_after_seconds is not None
    assert 590 <= outcome.retry_after_seconds <= 601


async def test_a_redirect_is_not_followed_and_is_retried(egress: Egress) -> None:
    routes = {
        "/hooks": redirect("/v2/hooks?token=hunter2", 308),
        "/v2/hooks": receiver(SECRET),
    }
    async with Origin(routes) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert [request.path for request in origin.received] == ["/hooks"]
    assert (outcome.verdict, outcome.status_code) == (Verdict.RETRY, 308)
    assert outcome.error == (
        f"http://127.0.0.1:{origin.port}/hooks: answered 308 Permanent Redirect"
        f" (to http://127.0.0.1:{origin.port}/v2/hooks); redirects are not followed:"
        " set the URL that answers"
    )


async def test_a_receiver_that_never_answers_times_out_promptly_and_is_retried(
    egress: Egress,
) -> None:
    async with Origin({"/hooks": never_answer}) as origin:
        started = time.monotonic()
        outcome = await deliver(egress, origin.url("/hooks"), total=1.0)
        elapsed = time.monotonic() - started
    assert (outcome.verdict, outcome.status_code, outcome.response) == (Verdict.RETRY, None, "")
    assert outcome.error == f"http://127.0.0.1:{origin.port}/hooks: no complete answer within 1 s"
    assert 0.9 <= elapsed < 5
    assert 900 <= outcome.latency_ms < 5000


async def test_a_refused_connection_is_retried(egress: Egress) -> None:
    async with Origin({}) as origin:
        url = origin.url("/hooks")
    outcome = await deliver(egress, url)
    assert (outcome.verdict, outcome.status_code) == (Verdict.RETRY, None)
    assert "connection refused" in str(outcome.error)


async def test_a_10_mb_answer_keeps_its_first_kib_and_returns_promptly(egress: Egress) -> None:
    huge = b"a" * 1023 + "é".encode() + b"z" * (10 * 1024 * 1024)  # "é" cut in half at 1 KiB
    async with Origin({"/hooks": receiver(SECRET, 200, huge)}) as origin:
        started = time.monotonic()
        outcome = await deliver(egress, origin.url("/hooks"))
        elapsed = time.monotonic() - started
    assert outcome.verdict == Verdict.DELIVERED
    assert outcome.response == "a" * 1023 + "\ufffd"
    assert elapsed < 5


async def test_an_answer_that_is_not_text_is_kept_safely(egress: Egress) -> None:
    async with Origin({"/hooks": receiver(SECRET, 500, b"\xff\x00oops\x80")}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"))
    assert outcome.response == "\ufffd\ufffdoops\ufffd"


async def test_a_private_address_is_refused_as_final_without_connecting() -> None:
    async with (
        Origin({"/hooks": receiver(SECRET)}) as origin,
        Egress(allow_private=False) as egress,
    ):
        outcome = await deliver(egress, origin.url("/hooks"))
    assert (outcome.verdict, outcome.status_code) == (Verdict.FINAL, None)
    assert outcome.error == "127.0.0.1 is a loopback address, which Kurir does not connect to"
    assert origin.connections == 0


async def test_no_secret_is_logged_or_shown(
    egress: Egress, caplog: pytest.LogCaptureFixture
) -> None:
    secret = new_secret()
    caplog.set_level(logging.DEBUG)
    async with Origin({"/hooks": receiver(secret, 503, b"busy")}) as origin:
        outcome = await deliver(egress, origin.url("/hooks"), [secret])
    assert outcome.verdict == Verdict.RETRY
    key = secret.removeprefix("whsec_")
    assert key not in repr(outcome)
    assert not any(key in record.getMessage() for record in caplog.records)
