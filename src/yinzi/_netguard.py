"""Addresses and sockets for the guarded fetcher: what counts as public, where sockets may go.

httpx resolves nothing itself here. :class:`PinnedBackend` is the only thing that opens sockets,
and it opens them only to the addresses the fetcher checked and pinned for a host name; a host
with no pin is refused. HTTP ``Host`` headers and TLS (SNI and certificate checks) keep using the
original host name, because httpcore passes the origin's host name to ``start_tls``.

Every read, write, connect and TLS handshake is capped by the remaining time to one deadline, so
a server that trickles bytes cannot stretch a download past its total time limit. With a
:class:`Pace`, reads are also capped by the moment the bytes received so far fall below the
minimum average rate, so a trickle fails once its grace period is over.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

# The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and later), every entry,
# refused whatever its "globally reachable" column says: none of them is where a client's audio
# or webhook lives. The first match gives the reason, so a more specific block comes first.
# IPv4 written inside IPv6 (::ffff:0:0/96, 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) is
# judged by the IPv4 address before this table is read; docs/configuration.md lists the blocks.
_SPECIAL_PURPOSE: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(block), reason)
    for block, reason in (
        ("0.0.0.0/32", "the unspecified address"),
        ("0.0.0.0/8", 'a "this network" address'),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.31.196.0/24", "an AS112 DNS address"),
        ("192.52.193.0/24", "an AMT relay address"),
        ("192.88.99.0/24", "a deprecated 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("192.175.48.0/24", "an AS112 DNS address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "a deprecated IPv4-compatible address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("100:0:0:1::/64", "a dummy address"),
        ("2001::/23", "an IETF protocol assignment"),
        ("2001:db8::/32", "a documentation address"),
        ("2620:4f:8000::/48", "an AS112 DNS address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment routing (SRv6) SID"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)


def is_public_address(ip: IPAddress) -> bool:
    """True when ``ip`` is a globally routable unicast address, judged by what it really reaches.

    IPv4 inside IPv6 (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4, Teredo) is judged
    by the IPv4 address; ``is_global`` alone is not trusted (it passes multicast, for one).
    """
    return why_not_public(ip) is None


def is_metadata_address(ip: IPAddress) -> bool:
    """True for a cloud metadata endpoint (169.254.169.254, fd00:ec2::254), however written."""
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else ()
    return any(address in _METADATA for address in (ip, *embedded))


def why_not_public(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is ("a loopback address"), or None if public.

    In order: the metadata service; IPv4 embedded in IPv6; the special-purpose table; IPv6
    outside global unicast (2000::/3); and last, as a safety net, what :mod:`ipaddress` says.
    """
    if ip in _METADATA:
        return "the cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            reasons = [r for r in map(why_not_public, embedded) if r]
            return f"{reasons[0]} written as IPv6" if reasons else None
    for block, reason in _SPECIAL_PURPOSE:
        if ip in block:
            return reason
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST:
        return "a reserved address"
    if ip.is_private or ip.is_reserved or ip.is_multicast or not ip.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    if ip.ipv4_mapped:
        return (ip.ipv4_mapped,)
    if ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.sixtofour:
        return (ip.sixtofour,)
    return ip.teredo or ()


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every TCP address ``host`` resolves to, in the resolver's order (the production resolver)."""
    addresses: dict[IPAddress, None] = {}
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family in (socket.AF_INET, socket.AF_INET6) and isinstance(sockaddr[0], str):
            addresses[ipaddress.ip_address(sockaddr[0])] = None
    return list(addresses)


# httpcore's exceptions and the httpx ones callers catch; same names, same meanings.
_EXCEPTIONS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProxyError: httpx.ProxyError,
}


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for cls in type(exc).__mro__:
            if cls in _EXCEPTIONS:
                raise _EXCEPTIONS[cls](str(exc)) from exc
        raise


class Pace:
    """A minimum average rate: ``grace_seconds`` after ``start``, at least ``bytes_per_second``
    times the time elapsed must have been read (over every connection of one call)."""

    def __init__(self, bytes_per_second: float, grace_seconds: float) -> None:
        self.bytes_per_second = bytes_per_second
        self.grace_seconds = grace_seconds
        self.start = time.monotonic()
        self.received = 0

    def due(self) -> float:
        """The moment by which more must have arrived."""
        return self.start + max(self.grace_seconds, self.received / self.bytes_per_second)

    def behind(self) -> bool:
        return time.monotonic() >= self.due()


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation waits at most until the deadline (reads: and the pace)."""

    def __init__(
        self, inner: httpcore.NetworkStream, deadline: float, pace: Pace | None = None
    ) -> None:
        self._inner = inner
        self._deadline = deadline
        self._pace = pace

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._pace is None:
            limit = _capped(timeout, self._deadline, httpcore.ReadTimeout)
            return self._inner.read(max_bytes, limit)
        by = min(self._deadline, self._pace.due())
        data = self._inner.read(max_bytes, _capped(timeout, by, httpcore.ReadTimeout))
        self._pace.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _capped(timeout, self._deadline, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._deadline, self._pace
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _capped(timeout: float | None, deadline: float, expired: type[Exception]) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the time limit ran out")
    return remaining if timeout is None else min(timeout, remaining)


class PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to pinned, already checked addresses, within a deadline (and,
    given a :class:`Pace`, reads from them no slower than it)."""

    def __init__(self, deadline: float, pace: Pace | None = None) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline
        self._pace = pace
        self._pins: dict[str, tuple[IPAddress, ...]] = {}

    def pin(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Let connections to ``host`` (as httpx spells it: IDNA, no brackets) use these only."""
        self._pins[host] = tuple(addresses)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._pins.get(host)
        if not addresses:
            raise httpcore.ConnectError(f"refusing to connect to {host}: it was not checked")
        options = list(socket_options or ())
        failure: Exception | None = None
        for address in addresses:  # in resolver order, as socket.create_connection would
            timeout_now = _capped(timeout, self._deadline, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(
                    str(address), port, timeout_now, local_address, options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._deadline, self._pace)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("refusing to connect to a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        stream = self._response.stream
        assert isinstance(stream, Iterable)
        with _as_httpx_errors():
            yield from stream

    def close(self) -> None:
        self._response.close()


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool that connects through a :class:`PinnedBackend`.

    No proxies, no Unix sockets, HTTP/1.1 only; httpcore errors surface as the httpx ones.
    """

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=backend, http1=True, http2=False
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
