"""Egress with private addresses refused, where a public address is this machine's own.

Not collected by name: `test_egress.test_in_a_network_namespace` runs this
file inside a network namespace of its own whose loopback also holds
`PUBLIC`, so a "public" server can run there and nothing sent to it leaves
the namespace. Whatever needs a server at a public address is tested so.
"""

import os
from collections.abc import AsyncIterator

import pytest

from kurir.egress import AddressRefused, Egress, Fetched
from tests.support.origin import Answers, Origin, ok, redirect

#: A global address (example.com's of old), assigned to the namespace's loopback.
PUBLIC = "93.184.216.34"

pytestmark = pytest.mark.skipif(
    not os.environ.get("KURIR_TEST_IN_NAMESPACE"),
    reason="runs inside a network namespace, from test_egress.test_in_a_network_namespace",
)


async def fetch(egress: Egress, url: str) -> Fetched:
    return await egress.fetch(
        url, max_bytes=1 << 20, follow_redirects=True, connect_timeout=5.0, total_timeout=10.0
    )


@pytest.fixture
async def loopback() -> AsyncIterator[Origin]:
    """What a rebinding or a redirect would aim at: it must never see a connection."""
    async with Origin({"/secret": ok(b"loopback")}) as origin:
        yield origin


async def test_a_name_rebound_to_loopback_after_its_check_still_reaches_the_checked_address(
    loopback: Origin,
) -> None:
    resolver = Answers([PUBLIC], ["127.0.0.1"])
    async with (
        Origin({"/secret": ok(b"public")}, host=PUBLIC, port=loopback.port) as public,
        Egress(allow_private=False, resolver=resolver) as egress,
    ):
        fetched = await fetch(egress, f"http://media.example:{public.port}/secret")
        assert fetched.body == b"public"
        assert public.received[0].local_address == PUBLIC
        assert resolver.questions == ["media.example"]
        # A new connection asks again, gets loopback, and is refused.
        async with Egress(allow_private=False, resolver=resolver) as later:
            with pytest.raises(AddressRefused):
                await fetch(later, f"http://media.example:{public.port}/secret")
    assert loopback.connections == 0


async def test_every_address_in_the_answer_is_checked(loopback: Origin) -> None:
    # The connection could fall back from the first address to any other.
    resolver = Answers([PUBLIC, "127.0.0.1"])
    async with (
        Origin({"/secret": ok(b"public")}, host=PUBLIC, port=loopback.port) as public,
        Egress(allow_private=False, resolver=resolver) as egress,
    ):
        with pytest.raises(AddressRefused) as refused:
            await fetch(egress, f"http://media.example:{public.port}/secret")
    assert refused.value.message == (
        f"http://media.example:{public.port}/secret: media.example resolves to a loopback"
        " address, which Kurir does not connect to"
    )
    assert public.connections == 0
    assert loopback.connections == 0


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://127.0.0.1:{port}/secret", "127.0.0.1 is a loopback address"),
        ("http://internal.example:{port}/secret", "internal.example resolves to a loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/secret", "::ffff:127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "is a cloud metadata address"),
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(
    loopback: Origin, location: str, message: str
) -> None:
    resolver = Answers([PUBLIC])

    async def internal_is_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "internal.example" else await resolver(host, port)

    target = redirect(location.format(port=loopback.port))
    async with (
        Origin({"/a.png": target}, host=PUBLIC) as public,
        Egress(allow_private=False, resolver=internal_is_loopback) as egress,
    ):
        with pytest.raises(AddressRefused) as refused:
            await fetch(egress, f"http://media.example:{public.port}/a.png")
    assert message in refused.value.message
    assert refused.value.message.startswith(f"http://media.example:{public.port}/a.png")
    assert len(public.received) == 1
    assert loopback.connections == 0
