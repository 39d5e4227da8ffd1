"""Connecting only to checked addresses: an httpcore network backend.

httpcore asks its network backend for a TCP stream to ``(host, port)`` and
then starts TLS on that stream with the URL's host name, for SNI and for
certificate verification. This backend resolves the host itself, checks every
address in the answer, and connects to a checked address, so the address
checked is the address connected to: there is no second lookup a DNS answer
that changes between the two (rebinding) could slip a private address into.
TLS is unaffected, as it still verifies the certificate against the name.
"""

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from ipaddress import ip_address

import httpcore

from kurir.egress.errors import AddressRefused, EgressTimeout, TransientEgressError
from kurir.egress.rules import refusal, refused_message

#: Resolves ``(host, port)`` to IP addresses as text, in the order to try them.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """What the operating system's resolver answers for ``host``, without repeats."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class PinningBackend(httpcore.AsyncNetworkBackend):
    """Resolves, refuses non-public addresses (unless allowed), connects to a checked one."""

    def __init__(self, *, resolver: Resolver, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._sockets = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._addresses(host, port)
                return await self._connect(host, addresses, port, local_address, socket_options)
        except TimeoutError as error:
            if timeout is None:
                raise
            raise EgressTimeout(f"no connection to {host} within {timeout:g} s") from error

    async def _addresses(self, host: str, port: int) -> Sequence[str]:
        literal = _is_address(host)
        if literal:
            addresses: Sequence[str] = [host]
        else:
            try:
                addresses = await self._resolver(host, port)
            except OSError as error:
                raise TransientEgressError(f"could not resolve {host}") from error
            if not addresses:
                raise TransientEgressError(f"could not resolve {host}")
        if not self._allow_private:
            # Every address, not only the first: the connection may fall back to any.
            for address in addresses:
                reason = refusal(ip_address(address))
                if reason is not None:
                    raise AddressRefused(refused_message(host, reason, literal=literal))
        return addresses

    async def _connect(
        self,
        host: str,
        addresses: Sequence[str],
        port: int,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._sockets.connect_tcp(
                    address, port, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        raise TransientEgressError(f"could not connect to {host}: {os_reason(failure)}")


def os_reason(error: BaseException | None) -> str:
    """The operating system's words for the first errno behind ``error`` ("connection refused")."""
    pending = [error] if error is not None else []
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return os.strerror(current.errno).lower()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(cause for cause in (current.__cause__, current.__context__) if cause)
    return "connection failed"


def _is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
