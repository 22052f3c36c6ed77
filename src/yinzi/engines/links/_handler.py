"""yt-dlp's network layer, replaced: every request goes through the guarded fetcher.

:class:`GuardedYoutubeDL` is a ``YoutubeDL`` whose request director holds exactly one handler,
:class:`GuardedRH`, and no other (not urllib, requests, curl_cffi or websockets), so an extractor
cannot reach an address the fetcher would refuse, whatever it asks for.

:class:`GuardedRH` follows redirects itself, one :meth:`GuardedFetcher.request` per hop, as
yt-dlp's own handlers do: each hop is checked and pinned by the fetcher, cookies are taken from
and stored into the cookie jar for the URL of that hop (so a short link on ``v.kuaishou.com``
that redirects to ``www.kuaishou.com`` sends that host's cookies, and none to another site), and
``Authorization`` never crosses to another origin. One deadline covers every request of an
analysis. Bodies are held in memory, at most :data:`yinzi.fetcher.SMALL_BODY_BYTES` each.
"""

from __future__ import annotations

import functools
import io
import time
import urllib.request
from collections.abc import Iterable
from email.message import Message
from typing import Any
from urllib.parse import urljoin, urlsplit

import yt_dlp
from yt_dlp.networking.common import RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, TransportError

from yinzi.errors import FetchError
from yinzi.fetcher import GuardedFetcher

MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_HEADERS = frozenset({"content-type", "content-length"})


class GuardedRH(RequestHandler):  # type: ignore[misc]
    """A yt-dlp request handler that sends each request through a :class:`GuardedFetcher`."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ()  # the fetcher carries the proxy; yt-dlp's own are refused
    _SUPPORTED_FEATURES = ()
    RH_NAME = "yinzi-guarded"

    def __init__(self, *, fetcher: GuardedFetcher, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fetcher = fetcher
        self._deadline = deadline

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(name, None)

    def _send(self, request: Any) -> Response:
        jar = self._get_cookiejar(request)
        headers = self._get_headers(request)
        method, url, body = request.method, request.url, _body_bytes(request.data)
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            cookie = jar.get_cookie_header(url)
            if cookie:
                sent["Cookie"] = cookie
            reply = self._hop(method, url, sent, body, self._calculate_timeout(request))
            response = _as_ytdlp_response(reply, url)
            jar.extract_cookies(_CookieSource(response.headers), urllib.request.Request(url))
            location = reply.headers.get("location")
            if reply.status_code not in _REDIRECTS or not location:
                if not 200 <= response.status < 300:
                    raise HTTPError(response)
                return response
            target = urljoin(url, location)
            method, body, headers = _redirected(reply.status_code, method, body, headers)
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
        raise HTTPError(response, redirect_loop=True)

    def _hop(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Any:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("the analysis ran out of time")
        try:
            return self._fetcher.request(
                method,
                url,
                headers=headers,
                content=body,
                follow_redirects=False,
                timeout_seconds=min(timeout, remaining),
            )
        except FetchError as exc:
            raise TransportError(exc.message, cause=exc) from exc


class GuardedYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]
    """A ``YoutubeDL`` whose only request handler is :class:`GuardedRH`."""

    def __init__(
        self, params: dict[str, Any], *, fetcher: GuardedFetcher, timeout_seconds: float
    ) -> None:
        self._guarded = functools.partial(
            GuardedRH, fetcher=fetcher, deadline=time.monotonic() + timeout_seconds
        )
        super().__init__(params, auto_init=False)

    @functools.cached_property
    def _request_director(self) -> Any:
        return self.build_request_director([self._guarded])


class _CookieSource:
    """What :meth:`http.cookiejar.CookieJar.extract_cookies` reads from a response."""

    def __init__(self, headers: Message) -> None:
        self._headers = headers

    def info(self) -> Message:
        return self._headers


def _as_ytdlp_response(reply: Any, url: str) -> Response:
    response = Response(io.BytesIO(reply.content), url=url, headers={}, status=reply.status_code)
    for name, value in reply.headers.multi_items():
        response.headers.add_header(name, value)
    return response


def _body_bytes(data: Any) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, io.IOBase):
        read: bytes = data.read()
        return read
    chunks: Iterable[bytes] = data
    return b"".join(chunks)


def _redirected(
    status: int, method: str, body: bytes | None, headers: dict[str, str]
) -> tuple[str, bytes | None, dict[str, str]]:
    """Method, body and headers for the next hop, as yt-dlp's own handlers do it."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        kept = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
        return "GET", None, kept
    return method, body, headers


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
