"""Egress against real HTTP servers on loopback, started in each test.

Loopback is private, so tests that must reach a server allow private
addresses, and tests of refusals leave them refused and give a resolver that
says where a name points. Tests that need a public address (which must be
this machine's own) run in a network namespace: `test_in_a_network_namespace`.
"""

import asyncio
import base64
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from kurir.egress import (
    AddressRefused,
    Egress,
    EgressTimeout,
    Fetched,
    RedirectRefused,
    TooLarge,
    TransientEgressError,
)
from tests.integration.egress_in_namespace import PUBLIC
from tests.support.origin import (
    Answers,
    Origin,
    Received,
    answer,
    answer_chunked,
    never_answer,
    ok,
    redirect,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def fetch(
    egress: Egress, url: str, *, max_bytes: int = 1 << 20, follow: bool = True, total: float = 10.0
) -> Fetched:
    return await egress.fetch(
        url, max_bytes=max_bytes, follow_redirects=follow, connect_timeout=5.0, total_timeout=total
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
async def egress() -> AsyncIterator[Egress]:
    """Private addresses allowed, so loopback servers can be reached by address."""
    async with Egress(allow_private=True) as opened:
        yield opened


async def test_a_fetch_follows_a_redirect_and_returns_the_answer(egress: Egress) -> None:
    routes = {"/old.png": redirect("/media/new.png", 301), "/media/new.png": ok(PNG, "image/png")}
    async with Origin(routes) as origin:
        fetched = await fetch(egress, origin.url("/old.png"))
    assert fetched.status == 200
    assert fetched.body == PNG
    assert fetched.content_type == "image/png"
    assert fetched.headers["content-length"] == str(len(PNG))
    assert fetched.final_url == origin.url("/media/new.png")
    assert [request.path for request in origin.received] == ["/old.png", "/media/new.png"]
    # Nothing compressed: the byte limit counts what the body really is.
    assert origin.received[0].headers["accept-encoding"] == "identity"


async def test_another_status_is_returned_for_the_caller_to_judge(egress: Egress) -> None:
    async with Origin({}) as origin:
        fetched = await fetch(egress, origin.url("/missing.png"))
    assert (fetched.status, fetched.body) == (404, b"")


@pytest.mark.parametrize(
    ("url", "answer", "message"),
    [
        ("http://127.0.0.1:{port}/a.png", "127.0.0.1", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/a.png", "127.0.0.1", "localhost is a loopback address"),
        ("http://media.example:{port}/a.png", "127.0.0.1", "resolves to a loopback address"),
        ("http://media.example:{port}/a.png", "::ffff:127.0.0.1", "resolves to a loopback"),
    ],
)
async def test_a_private_address_is_refused_before_any_connection(
    url: str, answer: str, message: str
) -> None:
    async with (
        Origin({"/a.png": ok(PNG)}) as origin,
        Egress(allow_private=False, resolver=Answers([answer])) as egress,
    ):
        with pytest.raises(AddressRefused) as refused:
            await fetch(egress, url.format(port=origin.port))
    assert message in refused.value.message
    assert refused.value.message.endswith("which Kurir does not connect to")
    assert origin.connections == 0


async def test_with_private_urls_allowed_the_same_name_is_reached() -> None:
    resolver = Answers(["127.0.0.1"])
    async with (
        Origin({"/a.png": ok(PNG)}) as origin,
        Egress(allow_private=True, resolver=resolver) as egress,
    ):
        fetched = await fetch(egress, f"http://media.example:{origin.port}/a.png")
    assert fetched.body == PNG
    assert origin.received[0].headers["host"] == f"media.example:{origin.port}"


async def test_the_connection_goes_to_the_address_resolved_and_checked() -> None:
    # The name's answer changes after the first question (DNS rebinding). The
    # second answer's server must see nothing: the first answer is the one connected to.
    resolver = Answers(["127.0.0.1"], ["127.0.0.2"])
    async with (
        Origin({"/who": ok(b"first")}) as first,
        Origin({"/who": ok(b"second")}, host="127.0.0.2", port=first.port) as second,
        Egress(allow_private=True, resolver=resolver) as egress,
    ):
        fetched = await fetch(egress, f"http://media.example:{first.port}/who")
    assert fetched.body == b"first"
    assert first.received[0].local_address == "127.0.0.1"
    assert resolver.questions == ["media.example"]
    assert second.connections == 0


async def test_tls_checks_the_name_while_connecting_to_the_pinned_address(ca: trustme.CA) -> None:
    resolver = Answers(["127.0.0.1"])
    async with (
        Origin({"/a.png": ok(PNG)}, tls=server_tls(ca, "media.example")) as origin,
        Egress(allow_private=True, resolver=resolver, ssl_context=client_tls(ca)) as egress,
    ):
        fetched = await fetch(egress, f"https://media.example:{origin.port}/a.png")
    assert fetched.body == PNG


async def test_a_certificate_for_another_name_is_not_accepted(ca: trustme.CA) -> None:
    resolver = Answers(["127.0.0.1"])
    async with (
        Origin({"/a.png": ok(PNG)}, tls=server_tls(ca, "other.example")) as origin,
        Egress(allow_private=True, resolver=resolver, ssl_context=client_tls(ca)) as egress,
    ):
        with pytest.raises(TransientEgressError) as failed:
            await fetch(egress, f"https://media.example:{origin.port}/a.png")
    assert "TLS certificate not accepted" in failed.value.message
    assert "media.example" in failed.value.message
    assert origin.received == []


async def test_five_redirects_are_followed_and_a_sixth_is_refused(egress: Egress) -> None:
    routes = {f"/hop/{hop}": redirect(f"/hop/{hop - 1}") for hop in range(1, 7)}
    routes["/hop/0"] = ok(b"arrived")
    async with Origin(routes) as origin:
        assert (await fetch(egress, origin.url("/hop/5"))).body == b"arrived"
        with pytest.raises(RedirectRefused) as refused:
            await fetch(egress, origin.url("/hop/6"))
    assert refused.value.message.endswith("more than 5 redirects")
    assert len(origin.received) == 6 + 6  # five redirects and the answer, then six redirects


async def test_a_redirect_is_an_answer_when_not_followed(egress: Egress) -> None:
    async with Origin({"/moved": redirect("/elsewhere", 307)}) as origin:
        fetched = await fetch(egress, origin.url("/moved"), follow=False)
        posted = await egress.post(
            origin.url("/moved"), body=b"{}", headers={}, keep_bytes=1024,
            connect_timeout=5.0, total_timeout=10.0,
        )  # fmt: skip
    assert (fetched.status, fetched.headers["location"]) == (307, "/elsewhere")
    assert (posted.status, posted.headers["location"]) == (307, "/elsewhere")
    assert [request.path for request in origin.received] == ["/moved", "/moved"]


async def test_a_redirect_from_https_to_http_is_refused(ca: trustme.CA) -> None:
    resolver = Answers(["127.0.0.1"])
    async with Origin({"/a.png": ok(PNG)}) as plain:
        downgrade = redirect(f"http://media.example:{plain.port}/a.png")
        async with (
            Origin({"/a.png": downgrade}, tls=server_tls(ca, "media.example")) as secure,
            Egress(allow_private=True, resolver=resolver, ssl_context=client_tls(ca)) as egress,
        ):
            with pytest.raises(RedirectRefused) as refused:
                await fetch(egress, f"https://media.example:{secure.port}/a.png")
    assert "redirect from https to http refused" in refused.value.message
    assert plain.connections == 0


async def test_a_redirect_to_an_unusable_url_is_refused(egress: Egress) -> None:
    async with Origin({"/a": redirect("ftp://files.example/a.png")}) as origin:
        with pytest.raises(RedirectRefused) as refused:
            await fetch(egress, origin.url("/a"))
    assert "redirect to ftp://files.example/a.png: scheme must be http or https" in str(
        refused.value
    )


async def test_a_body_that_drips_past_the_total_timeout_stops_at_it(egress: Egress) -> None:
    async def drip(_request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.1)

    async with Origin({"/slow.png": drip}) as origin:
        started = time.monotonic()
        with pytest.raises(EgressTimeout) as timed_out:
            await fetch(egress, origin.url("/slow.png"), total=1.0)
        elapsed = time.monotonic() - started
    assert timed_out.value.message.endswith("no complete answer within 1 s")
    assert 0.9 <= elapsed < 5


async def test_a_server_that_never_answers_times_out(egress: Egress) -> None:
    async with Origin({"/hook": never_answer}) as origin:
        started = time.monotonic()
        with pytest.raises(EgressTimeout):
            await egress.post(
                origin.url("/hook"), body=b"{}", headers={}, keep_bytes=1024,
                connect_timeout=5.0, total_timeout=1.0,
            )  # fmt: skip
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5


async def test_a_slow_name_lookup_counts_against_the_connect_timeout() -> None:
    async def slow_resolver(host: str, port: int) -> list[str]:
        await asyncio.sleep(60)
        return ["127.0.0.1"]

    async with Egress(allow_private=True, resolver=slow_resolver) as egress:
        started = time.monotonic()
        with pytest.raises(EgressTimeout) as timed_out:
            await egress.fetch(
                "http://media.example/a.png", max_bytes=1024, follow_redirects=True,
                connect_timeout=0.5, total_timeout=30.0,
            )  # fmt: skip
        elapsed = time.monotonic() - started
    assert timed_out.value.message == (
        "http://media.example/a.png: no connection to media.example within 0.5 s"
    )
    assert elapsed < 5


async def test_a_name_that_does_not_resolve_is_transient() -> None:
    async def no_such_name(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async with Egress(allow_private=False, resolver=no_such_name) as egress:
        with pytest.raises(TransientEgressError) as failed:
            await fetch(egress, "https://media.example/a.png")
    assert failed.value.message == "https://media.example/a.png: could not resolve media.example"


async def test_a_refused_connection_is_transient(egress: Egress) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(TransientEgressError) as failed:
        await fetch(egress, f"http://127.0.0.1:{port}/a.png")
    assert failed.value.message == (
        f"http://127.0.0.1:{port}/a.png: could not connect to 127.0.0.1: connection refused"
    )


async def test_a_declared_body_over_the_limit_is_refused_unread(egress: Egress) -> None:
    async with Origin({"/big.png": ok(b"x" * 5000)}) as origin:
        with pytest.raises(TooLarge) as refused:
            await fetch(egress, origin.url("/big.png"), max_bytes=1000)
        exactly = await fetch(egress, origin.url("/big.png"), max_bytes=5000)
    assert refused.value.message.endswith("the body is 5000 bytes, over the limit of 1000 bytes")
    assert len(exactly.body) == 5000


async def test_a_body_of_unknown_length_over_the_limit_is_refused(egress: Egress) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 600

    async def handle(_request: Received, writer: asyncio.StreamWriter) -> None:
        await answer_chunked(writer, 200, chunks())

    async with Origin({"/big.png": handle}) as origin:
        with pytest.raises(TooLarge) as refused:
            await fetch(egress, origin.url("/big.png"), max_bytes=1000)
    assert refused.value.message.endswith("the body is over the limit of 1000 bytes")


async def test_a_10_mb_webhook_answer_keeps_only_its_start(egress: Egress) -> None:
    answer_body = bytes(range(256)) * (10 * 4096)  # 10 MiB

    async def hook(request: Received, writer: asyncio.StreamWriter) -> None:
        await answer(writer, 200, answer_body, [("Content-Type", "text/plain")])

    async with Origin({"/hook": hook}) as origin:
        posted = await egress.post(
            origin.url("/hook"), body=b'{"event":"sent"}',
            headers={"Content-Type": "application/json", "X-Kurir-Signature": "abc"},
            keep_bytes=1024, connect_timeout=5.0, total_timeout=10.0,
        )  # fmt: skip
    assert posted.status == 200
    assert posted.body_start == answer_body[:1024]
    assert posted.headers["content-type"] == "text/plain"
    assert 0 < posted.elapsed < 5
    received = origin.received[0]
    assert (received.method, received.body) == ("POST", b'{"event":"sent"}')
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-kurir-signature"] == "abc"


async def test_an_endless_webhook_answer_returns_at_once_and_is_hung_up_on(egress: Egress) -> None:
    hung_up = asyncio.Event()

    async def forever() -> AsyncIterator[bytes]:
        for _ in range(100_000):  # bounded: about 6 GiB, never reached
            yield b"y" * 65536
            await asyncio.sleep(0)

    async def hook(_request: Received, writer: asyncio.StreamWriter) -> None:
        try:
            await answer_chunked(writer, 500, forever())
        finally:
            hung_up.set()

    async with Origin({"/hook": hook}) as origin:
        posted = await egress.post(
            origin.url("/hook"), body=b"{}", headers={}, keep_bytes=1024,
            connect_timeout=5.0, total_timeout=30.0,
        )  # fmt: skip
        await asyncio.wait_for(hung_up.wait(), 5)
    assert (posted.status, posted.body_start) == (500, b"y" * 1024)
    assert posted.elapsed < 5


async def test_credentials_in_the_url_are_sent_but_never_shown(egress: Egress) -> None:
    async with Origin({"/private.png": ok(PNG)}) as origin:
        origin.routes = {
            **origin.routes,
            "/moved.png": redirect("/again.png"),
            "/again.png": redirect(origin.url("/private.png")),
        }
        url = f"http://kurir:s3cret@127.0.0.1:{origin.port}/moved.png?token=hunter2"
        with pytest.raises(TooLarge) as refused:
            await fetch(egress, url, max_bytes=10)
    expected = f"Basic {base64.b64encode(b'kurir:s3cret').decode()}"
    assert origin.received[0].path == "/moved.png?token=hunter2"
    # A relative redirect stays on the URL's host and keeps its credentials; an
    # absolute one names its own (here none), so they are not sent there.
    authorization = [request.headers.get("authorization") for request in origin.received]
    assert authorization == [expected, expected, None]
    shown = refused.value.message
    assert shown.startswith(f"http://127.0.0.1:{origin.port}/moved.png redirected to ")
    assert not any(secret in shown for secret in ("kurir", "s3cret", "token", "hunter2"))


def test_in_a_network_namespace() -> None:
    """Runs egress_in_namespace.py where a public address belongs to the namespace's loopback.

    The namespace has no interface but its own loopback, so nothing sent to
    that address leaves it; there the tests can start a "public" server.
    """
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip to make a network namespace")
    if subprocess.run(["unshare", "--net", "true"], check=False).returncode != 0:
        pytest.skip("cannot make a network namespace here (unshare --net failed)")
    module = Path(__file__).with_name("egress_in_namespace.py")
    setup = f"ip link set lo up && ip addr add {PUBLIC}/32 dev lo"
    command = f"{setup} && exec {sys.executable} -m pytest -q -p no:cacheprovider {module}"
    run = subprocess.run(
        ["unshare", "--net", "sh", "-c", command],
        env={**os.environ, "KURIR_TEST_IN_NAMESPACE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout, run.stdout
    assert "skipped" not in run.stdout, run.stdout
