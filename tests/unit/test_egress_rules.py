"""The egress rules without I/O: which addresses are refused, which URLs are usable."""

from ipaddress import ip_address

import httpx
import pytest

from kurir.config import load_settings
from kurir.egress import AddressRefused, InvalidURL, check_url, refusal
from kurir.egress.rules import redact

LOOPBACK = "a loopback address"
PRIVATE = "a private address"
LINK_LOCAL = "a link-local address"
UNSPECIFIED = "an unspecified address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"
METADATA = "a cloud metadata address"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # Public: the only addresses connected to.
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("172.32.0.1", None),  # just past 172.16/12
        ("100.128.0.1", None),  # just past 100.64/10
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("::ffff:93.184.216.34", None),  # IPv4-mapped public
        ("64:ff9b::5db8:d822", None),  # NAT64 of a public address
        ("2002:5db8:d822::1", None),  # 6to4 of a public address
        # IPv4
        ("127.0.0.1", LOOPBACK),
        ("127.255.255.254", LOOPBACK),
        ("10.0.0.1", PRIVATE),
        ("172.16.0.1", PRIVATE),
        ("172.31.255.255", PRIVATE),
        ("192.168.1.1", PRIVATE),
        ("100.64.0.1", PRIVATE),  # carrier-grade NAT
        ("100.127.255.255", PRIVATE),
        ("169.254.0.1", LINK_LOCAL),
        ("169.254.169.254", METADATA),
        ("100.100.100.200", METADATA),
        ("192.0.0.192", METADATA),
        ("0.0.0.0", UNSPECIFIED),
        ("0.1.2.3", UNSPECIFIED),
        ("224.0.0.1", MULTICAST),
        ("239.255.255.250", MULTICAST),
        ("240.0.0.1", RESERVED),
        ("255.255.255.255", RESERVED),
        ("192.0.2.1", RESERVED),
        ("198.18.0.1", RESERVED),
        ("203.0.113.9", RESERVED),
        # IPv6
        ("::1", LOOPBACK),
        ("::", UNSPECIFIED),
        ("fc00::1", PRIVATE),
        ("fd12:3456:789a::1", PRIVATE),
        ("fd00:ec2::254", METADATA),
        ("fe80::1", LINK_LOCAL),
        ("fe80::1%eth0", LINK_LOCAL),
        ("febf::1", LINK_LOCAL),
        ("fec0::1", PRIVATE),  # site-local
        ("ff02::1", MULTICAST),
        ("ff0e::1", MULTICAST),
        ("2001:db8::1", RESERVED),
        ("2001::1", RESERVED),  # Teredo
        ("100::1", RESERVED),
        ("::7f00:1", RESERVED),  # IPv4-compatible, deprecated
        ("4000::1", RESERVED),  # outside 2000::/3
        ("64:ff9b:1::1", PRIVATE),  # local-use NAT64
        # IPv4 inside IPv6: mapped, NAT64 and 6to4 reach the IPv4 address.
        ("::ffff:127.0.0.1", LOOPBACK),
        ("::ffff:10.0.0.1", PRIVATE),
        ("::ffff:169.254.169.254", METADATA),
        ("::ffff:169.254.1.1", LINK_LOCAL),
        ("::ffff:0.0.0.0", UNSPECIFIED),
        ("::ffff:224.0.0.1", MULTICAST),
        ("64:ff9b::7f00:1", LOOPBACK),
        ("64:ff9b::a9fe:a9fe", METADATA),
        ("2002:7f00:1::", LOOPBACK),
        ("2002:c0a8:101::1", PRIVATE),
    ],
)
def test_address_rules(address: str, reason: str | None) -> None:
    assert refusal(ip_address(address)) == reason


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://cdn.example/media/a.png?sig=1", "https://cdn.example/media/a.png?sig=1"),
        ("HTTPS://CDN.Example/a.png", "https://cdn.example/a.png"),
        ("  http://cdn.example:8080/a.png\n", "http://cdn.example:8080/a.png"),
        ("https://bücher.example/a.png", "https://xn--bcher-kva.example/a.png"),
        ("https://user:pw@cdn.example/a.png", "https://user:pw@cdn.example/a.png"),
        ("http://93.184.216.34/a.png", "http://93.184.216.34/a.png"),
        ("http://[2606:2800:220:1::1]/a.png", "http://[2606:2800:220:1::1]/a.png"),
        ("https://cdn.example./a.png", "https://cdn.example./a.png"),
    ],
)
def test_a_usable_url_comes_back_normalised(url: str, normalised: str) -> None:
    assert check_url(url) == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example/a.png", "scheme must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "scheme must be http or https, not 'file'"),
        ("javascript:alert(1)", "scheme must be http or https, not 'javascript'"),
        ("/media/a.png", "must be an absolute URL starting with http:// or https://"),
        ("cdn.example/a.png", "must be an absolute URL starting with http:// or https://"),
        ("", "must be an absolute URL starting with http:// or https://"),
        ("http://", "URL has no host"),
        ("https:///a.png", "URL has no host"),
        ("http://cdn example/a.png", "host 'cdn%20example' is not a valid host name"),
        ("http://[fe80::1%25eth0]/", "host 'fe80::1%25eth0' is not a valid host name"),
        ("http://cdn.example:0/", "port must be 1 to 65535, not 0"),
        ("http://cdn.example:70000/", "port must be 1 to 65535, not 70000"),
        ("http://cdn.example:http/", "not a valid URL: Invalid port: 'http'"),
    ],
)
def test_an_unusable_url_is_a_value_error_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(InvalidURL) as refused:
        check_url(url)
    assert isinstance(refused.value, ValueError)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/a.png", "127.0.0.1 is a loopback address"),
        ("http://[::1]:8080/a.png", "::1 is a loopback address"),
        ("http://[::ffff:7f00:1]/a.png", "::ffff:7f00:1 is a loopback address"),
        ("http://10.1.2.3/a.png", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://0.0.0.0:8080/", "0.0.0.0 is an unspecified address"),
        ("http://localhost:8080/a.png", "localhost is a loopback address"),
        ("http://LOCALHOST./a.png", "localhost. is a loopback address"),
        ("http://api.localhost/a.png", "api.localhost is a loopback address"),
    ],
)
def test_a_literal_private_address_is_refused_at_once_unless_allowed(
    url: str, message: str
) -> None:
    with pytest.raises(AddressRefused) as refused:
        check_url(url)
    assert isinstance(refused.value, InvalidURL)
    assert str(refused.value) == f"{message}, which Kurir does not connect to"
    assert check_url(url, allow_private=True)


def test_a_name_is_not_resolved_at_accept_time() -> None:
    # What "internal.example" resolves to is only known, and checked, when connecting.
    assert check_url("http://internal.example/a.png") == "http://internal.example/a.png"


def test_a_url_in_a_message_has_no_credentials_query_or_fragment() -> None:
    url = httpx.URL("https://kurir:s3cret@cdn.example:8443/media/a%20b.png?token=abc#top")
    assert redact(url) == "https://cdn.example:8443/media/a%20b.png"


def test_the_setting_turns_the_address_check_off() -> None:
    assert load_settings({}).allow_private_urls is False
    assert load_settings({"KURIR_ALLOW_PRIVATE_URLS": "true"}).allow_private_urls is True
