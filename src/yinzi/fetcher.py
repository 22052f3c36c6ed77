"""Fetching user-supplied URLs without letting them reach inside the network (SSRF).

Guarantees, for every hop of every request made through :class:`GuardedFetcher`:

- Only ``http`` and ``https`` URLs with a host name are fetched.
- The host is resolved once per hop (``socket.getaddrinfo``, so decimal, hex, octal and short
  IPv4 spellings mean what a C library thinks they mean) and *every* address it resolves to must
  be public (:func:`is_public_address`); a policy allowing private addresses still refuses the
  cloud metadata service (169.254.169.254).
- The socket connects to exactly those checked addresses: they are pinned for the host, and the
  network backend refuses any host without a pin, so neither DNS rebinding nor a URL parsed
  differently somewhere else can steer a connection elsewhere. ``Host`` and TLS still use the
  host name (see :mod:`yinzi._netguard`).
- Redirects are followed by this module, never by httpx: each hop is checked like the first, at
  most ``max_redirects`` of them, and a loop is refused. Credentials headers do not cross origins.
- The body is limited in bytes (``Content-Length`` up front, then counted while streaming) and
  the whole call, redirects included, in time; connecting has its own shorter limit.
- A download (not a small :meth:`~GuardedFetcher.request`) must also keep an average of at least
  ``min_bytes_per_second`` once ``slow_grace_seconds`` have passed, counted from the start of the
  call, so a server that trickles cannot hold a worker for the whole time limit.
- Failures raise :class:`~yinzi.errors.FetchError` whose message is fit to show the user: it
  names the URL as ``scheme://host[:port]/path`` only, never its credentials or query.

With a ``proxy`` (an administrator's, trusted: ``http://`` or ``https://``) every connection goes
to the proxy instead. Each hop's host is still resolved here and refused unless all its addresses
are allowed, but the proxy resolves the name again and connects itself, so pinning (and with it
protection from DNS rebinding between the two lookups) is then the proxy's job; so is the minimum
rate, which is enforced on pinned connections only.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from yinzi import __version__
from yinzi._netguard import (
    IPAddress,
    Pace,
    PinnedBackend,
    PinnedTransport,
    is_metadata_address,
    is_public_address,
    resolve_host,
    why_not_public,
)
from yinzi.errors import AddressRefused, ConfigurationError, FetchError, InputTooLarge
from yinzi.settings import FetchSettings

__all__ = [
    "SMALL_BODY_BYTES",
    "AddressCheck",
    "FetchPolicy",
    "FetchResult",
    "GuardedFetcher",
    "IPAddress",
    "Resolver",
    "is_public_address",
    "resolve_host",
]

Resolver = Callable[[str, int], Sequence[IPAddress]]
"""Maps a host name and port to the addresses to check and connect to."""

AddressCheck = Callable[[IPAddress], bool]
"""Says whether the fetcher may connect to an address."""

SMALL_BODY_BYTES = 10 * 1024**2
"""Default body limit of :meth:`GuardedFetcher.request`, which holds the body in memory."""

_SCHEMES = frozenset({"http", "https"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "transfer-encoding"}
)
_DECODED_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})
_CHUNK_BYTES = 64 * 1024
_USER_AGENT = f"yinzi/{__version__}"


@dataclass(frozen=True)
class FetchPolicy:
    """What a :class:`GuardedFetcher` may fetch, how much and for how long."""

    allow_private: bool = False
    max_bytes: int = 1024**3
    timeout_seconds: float = 120.0
    connect_timeout_seconds: float = 10.0
    max_redirects: int = 5
    min_bytes_per_second: float = 16 * 1024.0
    """Slowest average a download may keep after ``slow_grace_seconds`` (0: no minimum)."""
    slow_grace_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: FetchSettings) -> FetchPolicy:
        return cls(
            allow_private=settings.allow_private,
            max_bytes=settings.max_bytes,
            timeout_seconds=settings.timeout_seconds,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            max_redirects=settings.max_redirects,
            min_bytes_per_second=settings.min_kib_per_second * 1024,
            slow_grace_seconds=settings.slow_grace_seconds,
        )

    def pace(self) -> Pace | None:
        """The minimum rate for one download starting now, if there is one."""
        if self.min_bytes_per_second <= 0:
            return None
        return Pace(self.min_bytes_per_second, self.slow_grace_seconds)


@dataclass(frozen=True)
class FetchResult:
    """A finished download. ``content_type`` is the media type without parameters."""

    path: Path
    size: int
    content_type: str | None
    final_url: str


class _Refused(Exception):
    """A URL or address that may not be fetched; the message is the reason."""


class _AddressRefused(_Refused):
    """The host resolves to an address the policy refuses (a decision, not a failure)."""


@dataclass
class _Call:
    """One download or request: its deadline, its pins and how it names its URL to the user."""

    shown_url: str
    timeout_seconds: float
    deadline: float
    backend: PinnedBackend
    pace: Pace | None = None

    def fail(self, reason: str, refused: bool = False, too_large: bool = False) -> FetchError:
        cls = AddressRefused if refused else InputTooLarge if too_large else FetchError
        return cls(f"could not fetch {self.shown_url}: {reason}", reason=reason)

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


class GuardedFetcher:
    """An HTTP client for untrusted URLs; see the module docstring for what it guarantees.

    ``resolver`` and ``address_allowed`` exist for tests (a fake DNS, an allowlisted test
    address); production code passes neither and gets ``getaddrinfo`` and the public-only check.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver | None = None,
        address_allowed: AddressCheck | None = None,
        proxy: str | None = None,
    ) -> None:
        if proxy is not None and urlsplit(proxy).scheme not in _SCHEMES:
            raise ConfigurationError("the proxy must be an http:// or https:// URL")
        self._policy = policy
        self._resolve = resolver or resolve_host
        self._allowed = address_allowed or (
            _not_metadata if policy.allow_private else is_public_address
        )
        self._proxy = proxy
        self._ssl_context: ssl.SSLContext | None = None

    def with_proxy(self, proxy: str | None) -> GuardedFetcher:
        """A fetcher like this one whose connections all go through ``proxy`` (None: direct)."""
        return GuardedFetcher(
            self._policy, resolver=self._resolve, address_allowed=self._allowed, proxy=proxy
        )

    def check_url(self, url: str) -> None:
        """Refuse ``url`` now if it could never be fetched (scheme, host, resolved addresses)."""
        try:
            self._check(_parse(url))
        except _Refused as exc:
            cls = AddressRefused if isinstance(exc, _AddressRefused) else FetchError
            raise cls(f"could not fetch {_shown(url)}: {exc}", reason=str(exc)) from exc

    def download(
        self,
        url: str,
        dest: Path,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """Stream ``url`` to ``dest`` atomically (via ``dest`` + ``.part``), following redirects.

        ``headers`` are sent with the request (e.g. the Referer a video host wants); credential
        headers are dropped on a redirect to another origin, as for :meth:`request`.
        ``max_bytes`` lowers the policy's limit for this download only.

        Raises :class:`FetchError` for a refused URL, a non-2xx answer, a download slower than
        ``timeout_seconds`` or a network failure, and :class:`InputTooLarge` for a body over
        the limit.
        """
        part = dest.with_name(dest.name + ".part")  # not with_suffix: a.mp3 and a.wav differ
        limit = min(self._policy.max_bytes, max_bytes or self._policy.max_bytes)
        pace = self._policy.pace()
        with self._call(url, self._policy.timeout_seconds, pace) as (call, client):
            sent = {**(headers or {}), "Accept-Encoding": "identity"}
            response = self._open(call, client, "GET", url, sent)
            try:
                if not response.is_success:
                    raise call.fail(f"the server answered {_status(response)}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with part.open("wb") as file:
                    for chunk in self._body(call, response, limit):
                        file.write(chunk)
                size = part.stat().st_size
                os.replace(part, dest)
            finally:
                response.close()
                part.unlink(missing_ok=True)
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return FetchResult(dest, size, media_type or None, _without_userinfo(response.url))

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = True,
        max_bytes: int | None = None,
        timeout_seconds: float | None = None,
    ) -> httpx.Response:
        """Send one small request (a page, JSON, a webhook) and return the response, body read.

        Any status is returned; only refusals and failures raise :class:`FetchError`. The body
        is held in memory, so ``max_bytes`` defaults to the smaller of :data:`SMALL_BODY_BYTES`
        and the policy's limit. The body is returned decoded, without ``Content-Encoding``.
        """
        limit = max_bytes or min(SMALL_BODY_BYTES, self._policy.max_bytes)
        timeout = timeout_seconds or self._policy.timeout_seconds
        with self._call(url, timeout) as (call, client):
            response = self._open(
                call, client, method.upper(), url, dict(headers or {}), content, follow_redirects
            )
            try:
                body = b"".join(self._body(call, response, limit))
            finally:
                response.close()
        kept = [(k, v) for k, v in response.headers.multi_items() if k not in _DECODED_HEADERS]
        extensions = {k: v for k, v in response.extensions.items() if k != "network_stream"}
        return httpx.Response(
            response.status_code,
            headers=kept,
            content=body,
            request=response.request,
            extensions=extensions,
        )

    # -- one call: a client of its own, redirects, limits ------------------------------------

    @contextmanager
    def _call(
        self, url: str, timeout_seconds: float, pace: Pace | None = None
    ) -> Iterator[tuple[_Call, httpx.Client]]:
        deadline = time.monotonic() + timeout_seconds
        call = _Call(_shown(url), timeout_seconds, deadline, PinnedBackend(deadline, pace), pace)
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        transport: httpx.BaseTransport = (
            PinnedTransport(call.backend, self._ssl_context)
            if self._proxy is None
            else httpx.HTTPTransport(verify=self._ssl_context, proxy=self._proxy)
        )
        client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout_seconds, connect=self._policy.connect_timeout_seconds),
            headers={"User-Agent": _USER_AGENT},
            follow_redirects=False,
            trust_env=False,  # no proxies from the environment, no .netrc credentials
        )
        try:
            with client:
                yield call, client
        except httpx.HTTPError as exc:
            raise call.fail(self._explain(call, exc)) from exc

    def _open(
        self,
        call: _Call,
        client: httpx.Client,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None = None,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """Send the request, following checked redirects; the final response is left unread."""
        try:
            target = self._pinned(call, _parse(url))
        except _Refused as exc:
            raise call.fail(str(exc), isinstance(exc, _AddressRefused)) from exc
        seen = {(method, str(target))}
        for hop in range(self._policy.max_redirects + 1):
            request = client.build_request(method, target, headers=headers, content=content)
            response = client.send(request, stream=True)
            location = response.headers.get("location")
            if not follow_redirects or response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            if hop == self._policy.max_redirects:
                break
            source, target = target, self._redirect_target(call, target, location)
            method, content, headers = _redirected(response.status_code, method, content, headers)
            if source.scheme != target.scheme or source.netloc != target.netloc:
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
            if (method, str(target)) in seen:
                raise call.fail(f"its redirects go round in a loop (back to {_shown(str(target))})")
            seen.add((method, str(target)))
        limit = self._policy.max_redirects
        raise call.fail(f"it redirects too many times (more than {limit})")

    def _redirect_target(self, call: _Call, source: httpx.URL, location: str) -> httpx.URL:
        try:
            target = _parse(str(source.join(location)))
        except (_Refused, httpx.InvalidURL) as exc:
            raise call.fail(f"it redirects to an address that is not a valid URL ({exc})") from exc
        try:
            return self._pinned(call, target)
        except _Refused as exc:
            refused = isinstance(exc, _AddressRefused)
            raise call.fail(f"it redirects to {_shown(str(target))}, but {exc}", refused) from exc

    def _pinned(self, call: _Call, url: httpx.URL) -> httpx.URL:
        """Check ``url`` and pin its host to the addresses checked, for this call's sockets."""
        call.backend.pin(url.raw_host.decode("ascii"), self._check(url))
        return url

    def _check(self, url: httpx.URL) -> list[IPAddress]:
        """The addresses ``url``'s host resolves to, all of them allowed; else :class:`_Refused`."""
        if url.scheme not in _SCHEMES:
            raise _Refused(f"only http and https URLs can be fetched, not {url.scheme or 'this'}")
        host = url.raw_host.decode("ascii")
        if not host:
            raise _Refused("the URL has no host name")
        name = _readable_host(url)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = list(self._resolve(host, port))
        except (OSError, UnicodeError) as exc:
            raise _Refused(f"the host name {name} could not be found") from exc
        if not addresses:
            raise _Refused(f"the host name {name} could not be found")
        for address in addresses:
            if not self._allowed(address):
                kind = why_not_public(address) or "an address this server may not fetch from"
                if _as_address(name) == address:
                    what = f"{address} is {kind}"
                else:
                    what = f"{name} resolves to {address}, {kind}"
                raise _AddressRefused(f"{what}; only public addresses can be fetched")
        return addresses

    def _body(self, call: _Call, response: httpx.Response, limit: int) -> Iterator[bytes]:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            over = f"it is {_size(int(declared))}, over the limit of {_size(limit)}"
            raise call.fail(over, too_large=True)
        received = 0
        for chunk in response.iter_bytes(_CHUNK_BYTES):
            received += len(chunk)
            if received > limit:
                raise call.fail(f"it is larger than the limit of {_size(limit)}", too_large=True)
            if call.expired():
                raise call.fail(self._too_slow(call))
            yield chunk

    def _explain(self, call: _Call, exc: httpx.HTTPError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            if call.expired():
                return self._too_slow(call)
            if call.pace is not None and call.pace.behind():
                rate, grace = call.pace.bytes_per_second / 1024, call.pace.grace_seconds
                return f"it arrived slower than {rate:g} KiB/s (checked after {grace:g} seconds)"
            if isinstance(exc, httpx.ConnectTimeout):
                seconds = self._policy.connect_timeout_seconds
                return f"could not connect to the server within {seconds:g} seconds"
            return "the server stopped responding"
        if isinstance(exc, httpx.ConnectError):
            return f"could not connect to the server ({_root_reason(exc)})"
        if isinstance(exc, httpx.ProtocolError):
            return f"the server broke the HTTP protocol ({_root_reason(exc)})"
        if isinstance(exc, httpx.DecodingError):
            return "the server sent a body that could not be decoded"
        return f"the connection failed ({_root_reason(exc)})"

    def _too_slow(self, call: _Call) -> str:
        return f"it took longer than the time limit of {call.timeout_seconds:g} seconds"


def _not_metadata(ip: IPAddress) -> bool:
    """The check under ``allow_private``: anything but the cloud metadata service."""
    return not is_metadata_address(ip)


def _readable_host(url: httpx.URL) -> str:
    """The host as a person would write it (Unicode, not IDNA), or as sent if that fails."""
    try:
        return url.host
    except UnicodeError:
        return url.raw_host.decode("ascii")


def _as_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parse(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise _Refused(f"the URL is not valid ({exc})") from exc


def _redirected(
    status: int, method: str, content: bytes | None, headers: dict[str, str]
) -> tuple[str, bytes | None, dict[str, str]]:
    """Method, body and headers for the next hop, as browsers (and httpx) do it."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
        return "GET", None, headers
    return method, content, headers


def _shown(url: str) -> str:
    """``scheme://host[:port]/path`` of a URL: no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "the URL"
    path = parts.path if len(parts.path) <= 200 else parts.path[:200] + "…"
    return f"{parts.scheme}://{host}{port}{path}" if parts.scheme else "the URL"


def _without_userinfo(url: httpx.URL) -> str:
    return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)


def _status(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _root_reason(exc: BaseException) -> str:
    """The OS-level reason behind a network error ("Connection refused"), else its text."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not valid: {cause.verify_message}"
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror)
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__
