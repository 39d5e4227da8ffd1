"""Connecting only to checked addresses.

The opener resolves the host itself, checks every address in the answer, and
connects to a checked address, so the address checked is the address
connected to: there is no second lookup a DNS answer that changes between the
two (rebinding) could slip a private address into. TLS is unaffected: it
still verifies the certificate against the host name, which it sends as SNI.
"""

import asyncio
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import ip_address

from kurir.egress.errors import AddressRefused, EgressTimeout, TransientEgressError
from kurir.egress.rules import refusal, refused_message
from kurir.egress.wire import Connection, Origin

#: Resolves ``(host, port)`` to IP addresses as text, in the order to try them.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """What the operating system's resolver answers for ``host``, without repeats."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class PinningOpener:
    """Opens connections: resolves, refuses non-public addresses (unless allowed), connects."""

    def __init__(
        self, *, resolver: Resolver, allow_private: bool, ssl_context: ssl.SSLContext
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._ssl_context = ssl_context

    async def __call__(self, origin: Origin, timeout: float) -> Connection:  # noqa: ASYNC109  # the opener's interface
        """A connection to ``origin``, TLS done for https, within ``timeout`` seconds."""
        scheme, host, port = origin
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._addresses(host, port)
                return await self._connect(scheme, host, addresses, port)
        except TimeoutError as error:
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
        self, scheme: str, host: str, addresses: Sequence[str], port: int
    ) -> Connection:
        loop = asyncio.get_running_loop()
        tls = self._ssl_context if scheme == "https" else None
        failure: OSError | None = None
        for address in addresses:
            try:
                _, connection = await loop.create_connection(
                    Connection, address, port, ssl=tls, server_hostname=host if tls else None
                )
            except ssl.SSLError as error:  # the handshake: no other address would do better
                raise TransientEgressError(tls_reason(error)) from error
            except OSError as error:
                failure = error
            else:
                return connection
        raise TransientEgressError(f"could not connect to {host}: {os_reason(failure)}")


def tls_reason(error: BaseException) -> str:
    """Why a TLS handshake failed, in the customer's words."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or 'unknown reason'})"
        cause = cause.__cause__ or cause.__context__
    return "TLS handshake failed"


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
