"""The pure rules: which URLs Kurir uses, and which addresses it connects to.

No I/O here, so the API can refuse a bad URL when a request is accepted, and
the connecting side applies the same address rules to what DNS answered.
"""

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpx

from kurir.egress.errors import AddressRefused, InvalidURL

IPAddress = IPv4Address | IPv6Address

LOOPBACK = "a loopback address"
PRIVATE = "a private address"
LINK_LOCAL = "a link-local address"
UNSPECIFIED = "an unspecified address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"
METADATA = "a cloud metadata address"

# Named apart from their ranges (all refused anyway) so the message says what they are.
_METADATA = frozenset(
    ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)

# IANA's special-purpose registries, written out rather than taken from
# `ipaddress.is_global`, whose answer differs between Python patch releases.
_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", UNSPECIFIED),  # "this network": 0.0.0.0 reaches the local host on Linux
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", PRIVATE),  # carrier-grade NAT
        ("127.0.0.0/8", LOOPBACK),
        ("169.254.0.0/16", LINK_LOCAL),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", RESERVED),  # documentation
        ("192.88.99.0/24", RESERVED),  # 6to4 relays
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", RESERVED),  # benchmarking
        ("198.51.100.0/24", RESERVED),  # documentation
        ("203.0.113.0/24", RESERVED),  # documentation
        ("224.0.0.0/4", MULTICAST),
        ("240.0.0.0/4", RESERVED),  # includes the broadcast address
    )
)
_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("64:ff9b:1::/48", PRIVATE),  # local-use NAT64
        ("100::/64", RESERVED),  # discard
        ("2001::/23", RESERVED),  # IETF protocol assignments, Teredo among them
        ("2001:db8::/32", RESERVED),  # documentation
        ("fc00::/7", PRIVATE),  # unique local
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", PRIVATE),  # site-local, deprecated
        ("ff00::/8", MULTICAST),
    )
)
# IPv6 forms that carry an IPv4 address and reach it: IPv4-mapped (the socket
# connects over IPv4), NAT64 (the network's translator does), and 6to4.
_MAPPED = IPv6Network("::ffff:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST = IPv6Network("2000::/3")

_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")


def refusal(address: IPAddress) -> str | None:
    """Why Kurir does not connect to ``address`` (e.g. "a loopback address"), or None."""
    if address in _METADATA:
        return METADATA
    if isinstance(address, IPv4Address):
        return next((reason for network, reason in _IPV4 if address in network), None)
    if address in _MAPPED or address in _NAT64:
        return refusal(IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        return refusal(address.sixtofour)
    for network, reason in _IPV6:
        if address in network:
            return reason
    # Everything outside 2000::/3 is unassigned or special.
    return None if address in _GLOBAL_UNICAST else RESERVED


def parse_url(url: str, *, allow_private: bool = False) -> httpx.URL:
    """``url`` parsed, if it is an absolute http(s) URL with a valid host and port.

    Without ``allow_private``, a host that is an address Kurir refuses, or
    ``localhost``, raises `AddressRefused`; other names are checked when
    connecting, against what they resolve to then.
    """
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as error:
        raise InvalidURL(f"not a valid URL: {error}") from error
    if parsed.scheme not in ("http", "https"):
        if not parsed.scheme:
            raise InvalidURL("must be an absolute URL starting with http:// or https://")
        raise InvalidURL(f"scheme must be http or https, not {parsed.scheme!r}")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise InvalidURL("URL has no host")
    address = _literal(host)
    if address is None and not _NAME.fullmatch(host):
        raise InvalidURL(f"host {host!r} is not a valid host name")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise InvalidURL(f"port must be 1 to 65535, not {parsed.port}")
    if not allow_private:
        if address is not None and (reason := refusal(address)) is not None:
            raise AddressRefused(refused_message(host, reason, literal=True))
        if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
            raise AddressRefused(refused_message(host, LOOPBACK, literal=True))
    return parsed


def check_url(url: str, *, allow_private: bool = False) -> str:
    """``url`` normalised, or `InvalidURL` (a ValueError) saying what is wrong; no I/O."""
    return str(parse_url(url, allow_private=allow_private))


def refused_message(host: str, reason: str, *, literal: bool) -> str:
    verb = "is" if literal else "resolves to"
    return f"{host} {verb} {reason}, which Kurir does not connect to"


def redact(url: httpx.URL) -> str:
    """``url`` for messages: without userinfo (credentials), query and fragment."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _literal(host: str) -> IPAddress | None:
    # A zone ("fe80::1%eth0") names an interface of this machine: no host of a customer's.
    if "%" in host:
        return None
    try:
        return ip_address(host)
    except ValueError:
        return None
