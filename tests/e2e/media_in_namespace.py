"""Media fetched by a real worker that refuses private addresses, from a "public" server.

Not collected by name: `test_media_private_addresses.test_in_a_network_namespace` runs
this file inside a network namespace of its own whose loopback also holds
`PUBLIC`. There the file's server listens on that public address, Kurir runs
with ``KURIR_ALLOW_PRIVATE_URLS`` off as in production, and a redirect from
the file's server to loopback (where a second server waits, and must never
see a connection) is what the worker has to refuse.
"""

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.e2e.contract import accepted_id, assert_error, sandbox_deliveries
from tests.support.databases import DATABASE_KINDS, database_of_kind
from tests.support.gateway import settled
from tests.support.origin import Origin, ok, redirect, served
from tests.support.server import KurirProcess

#: A global address (example.com's of old), assigned to the namespace's loopback.
PUBLIC = "93.184.216.34"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

pytestmark = pytest.mark.skipif(
    not os.environ.get("KURIR_TEST_IN_NAMESPACE"),
    reason="runs inside a network namespace, from test_media_private_addresses.py",
)

#: Where the public server redirects, by its path there; ``{port}`` is the loopback server's.
REDIRECTS = {
    "/to-loopback.png": "http://127.0.0.1:{port}/secret.png",
    "/to-localhost.png": "http://localhost:{port}/secret.png",
    "/to-ipv6-loopback.png": "http://[::1]:{port}/secret.png",
    "/to-short-loopback.png": "http://127.1:{port}/secret.png",
    "/to-private.png": "http://10.0.0.1:{port}/secret.png",
    "/to-metadata.png": "http://169.254.169.254/latest/meta-data/",
}


@pytest.fixture(scope="module")
def loopback() -> Iterator[Origin]:
    """What a redirect aims at: it must never see a connection."""
    with served({"/secret.png": ok(PNG, "image/png")}) as origin:
        yield origin


@pytest.fixture(scope="module")
def public(loopback: Origin) -> Iterator[Origin]:
    routes = {
        path: redirect(location.format(port=loopback.port)) for path, location in REDIRECTS.items()
    }
    routes["/photo.png"] = ok(PNG, "image/png")
    with served(routes, host=PUBLIC) as origin:
        yield origin


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KurirProcess]:
    directory = tmp_path_factory.mktemp("media-in-namespace")
    with ExitStack() as stack:
        url = stack.enter_context(database_of_kind(request.param, directory))
        env = {"KURIR_ALLOW_PRIVATE_URLS": "false", "KURIR_SEND_TIMEOUT_SECONDS": "10"}
        process = KurirProcess(url, directory, env=env).start()
        stack.callback(process.stop)
        yield process


@pytest.fixture(scope="module")
def http(server: KurirProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _send(http: httpx.Client, server: KurirProcess, url: str) -> str:
    body = {"device": server.device_id, "phone": "08111111111", "url": url}
    return accepted_id(http.post("/send/media", json=body))


def _delivered(http: httpx.Client, server: KurirProcess, message_id: str) -> list[dict[str, Any]]:
    return [
        item
        for item in sandbox_deliveries(http, server.device_id)
        if item["message_id"] == message_id
    ]


def test_a_file_on_a_public_address_is_delivered(
    server: KurirProcess, http: httpx.Client, public: Origin
) -> None:
    url = public.url("/photo.png")
    message_id = _send(http, server, url)
    assert settled(http, message_id, timeout=20)["status"] == "delivered"
    [delivery] = _delivered(http, server, message_id)
    assert delivery["content"] == {"url": url, "type": "image"}
    assert public.received[-1].local_address == PUBLIC


def _refused(host: str, reason: str, *, literal: bool = True) -> str:
    verb = "is" if literal else "resolves to"
    return f"{host} {verb} {reason}, which Kurir does not connect to"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (
            "/to-loopback.png",
            "redirect to {target}: " + _refused("127.0.0.1", "a loopback address"),
        ),
        (
            "/to-localhost.png",
            "redirect to {target}: " + _refused("localhost", "a loopback address"),
        ),
        ("/to-ipv6-loopback.png", "redirect to {target}: " + _refused("::1", "a loopback address")),
        ("/to-private.png", "redirect to {target}: " + _refused("10.0.0.1", "a private address")),
        (
            "/to-metadata.png",
            "redirect to {target}: " + _refused("169.254.169.254", "a cloud metadata address"),
        ),
    ],
)
def test_a_redirect_to_a_private_address_is_refused_without_connecting(
    server: KurirProcess,
    http: httpx.Client,
    public: Origin,
    loopback: Origin,
    path: str,
    reason: str,
) -> None:
    url = public.url(path)
    target = REDIRECTS[path].format(port=loopback.port)
    message_id = _send(http, server, url)
    data = settled(http, message_id, timeout=20)
    assert (data["status"], data["attempts"]) == ("failed", 1)
    assert data["last_error"] == f"media: {url}: {reason.format(target=target)}"
    assert _delivered(http, server, message_id) == []
    assert loopback.connections == 0


def test_a_name_for_loopback_is_refused_for_the_address_it_stands_for(
    server: KurirProcess, http: httpx.Client, public: Origin, loopback: Origin
) -> None:
    """``127.1`` is not written as an address, so it is checked where it leads: loopback."""
    url = public.url("/to-short-loopback.png")
    target = REDIRECTS["/to-short-loopback.png"].format(port=loopback.port)
    redirected = settled(http, _send(http, server, url), timeout=20)
    assert (redirected["status"], redirected["attempts"]) == ("failed", 1)
    assert redirected["last_error"] == (
        f"media: {url} redirected to {target}: "
        + _refused("127.1", "a loopback address", literal=False)
    )
    direct = loopback.url("/secret.png", host="127.1")
    straight = settled(http, _send(http, server, direct), timeout=20)
    assert (straight["status"], straight["attempts"]) == ("failed", 1)
    assert straight["last_error"] == (
        f"media: {direct}: " + _refused("127.1", "a loopback address", literal=False)
    )
    assert loopback.connections == 0


def test_a_private_address_written_in_the_url_is_refused_when_the_request_comes(
    server: KurirProcess, http: httpx.Client, loopback: Origin
) -> None:
    body = {"device": server.device_id, "phone": "08111111111", "url": loopback.url("/secret.png")}
    assert_error(
        http.post("/send/media", json=body),
        422,
        "url: " + _refused("127.0.0.1", "a loopback address"),
    )
