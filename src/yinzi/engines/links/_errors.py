"""What a yt-dlp failure means to the user, as one of the link errors.

Every message names the link the user gave (``could not analyse https://v.douyin.com/x/: ...``,
without its query) and never an address yt-dlp asked for on its own (a platform's API such as
``https://www.youtube.com/youtubei/v1/next``): a fetch failure gives its reason without its URL,
and any other address left in a reason is cut to its host name.

- yt-dlp found nothing it understands (``UnsupportedError``) → :class:`UnsupportedLink`.
- The platform said no: an HTTP 4xx answer, geo restriction, or an error the extractor marked
  *expected* (login required, private, deleted, "fresh cookies are needed") →
  :class:`PlatformRefused` with the platform's reason.
- The guarded fetcher refused an address, or the network failed → :class:`LinkError` saying why.
- Anything else → :class:`LinkError` with yt-dlp's reason.

Messages are cleaned of yt-dlp's boilerplate: ``ERROR: [douyin] 123:`` prefixes, "(caused by
...)" reprs, command-line advice (``--cookies``), wiki links and "please report this issue" text.
No traceback, cookie or URL query ever reaches a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import ExtractorError, GeoRestrictedError, UnsupportedError

from yinzi.engines.links.base import LinkError, PlatformRefused, UnsupportedLink
from yinzi.errors import FetchError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PREFIX = re.compile(r"^(?:ERROR:\s*)?(?:\[[^\]]+\]\s*(?:[\w.-]+:\s+)?)?")
_CAUSED_BY = re.compile(r"\s*\(caused by .*\)\s*$", re.DOTALL)
_BOILERPLATE = re.compile(
    r"--[a-z][\w-]+|yt-dlp|github\.com|please report|bug report|confirm you are on the latest",
    re.IGNORECASE,
)
_NO_FORMATS = "no video formats found"
_URL = re.compile(r"\b(?:https?|wss?)://[^\s<>\"'()\[\]]+", re.IGNORECASE)


def as_link_error(exc: BaseException, url: str) -> LinkError:
    """The link error for yt-dlp's failure ``exc`` (a ``DownloadError`` or what it wraps) while
    analysing the user's link ``url``."""
    chain = list(_causes(exc))
    fetched = any(isinstance(e, FetchError) for e in chain)
    if not fetched and any(isinstance(e, UnsupportedError) for e in chain):
        return UnsupportedLink(f"this site is not supported: {_host(url)}")
    kind, reason = _explain(exc, chain)
    return kind(f"could not analyse {_shown(url)}: {_without_urls(reason)}")


def _explain(exc: BaseException, chain: list[BaseException]) -> tuple[type[LinkError], str]:
    fetch = next((e for e in chain if isinstance(e, FetchError)), None)
    if fetch is not None:
        return LinkError, fetch.reason
    http = next((e for e in chain if isinstance(e, HTTPError)), None)
    if http is not None:
        answer = f"{http.status} {http.reason or ''}".strip()
        if 400 <= http.status < 500:
            return PlatformRefused, f"the platform refused the request (HTTP {answer})"
        return LinkError, f"the platform failed to answer (HTTP {answer})"
    transport = next((e for e in chain if isinstance(e, TransportError)), None)
    if transport is not None:
        return LinkError, f"could not reach the platform: {clean_message(str(transport.msg))}"
    extractor = next((e for e in chain if isinstance(e, ExtractorError)), None)
    if extractor is None:
        return LinkError, clean_message(str(exc))
    reason = clean_message(extractor.orig_msg)
    if _NO_FORMATS in reason.lower():
        return LinkError, "the page has no video (it may be a photo post)"
    if isinstance(extractor, GeoRestrictedError) or extractor.expected:
        return PlatformRefused, reason
    return LinkError, reason


def clean_message(message: str) -> str:
    """yt-dlp's message without its prefixes, cause reprs, CLI advice and bug-report text."""
    text = _CAUSED_BY.sub("", _PREFIX.sub("", _ANSI.sub("", message.strip())))
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = [s for s in sentences if s and not _BOILERPLATE.search(s)]
    cleaned = " ".join(kept).strip().rstrip(";:,")
    return cleaned or "the platform gave no reason"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: ``exc_info``, ``cause`` and ``__cause__``, without cycles."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        wrapped = getattr(item, "exc_info", None)
        inner = wrapped[1] if isinstance(wrapped, tuple) and len(wrapped) > 1 else None
        stack.extend([item.__cause__, getattr(item, "cause", None), inner])


def _without_urls(text: str) -> str:
    """``text`` with every web address cut to its host name."""
    return _URL.sub(lambda match: _host(match.group(0)), text)


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return "this address"


def _shown(url: str) -> str:
    """The user's link as ``scheme://host/path``: no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "the link"
    path = parts.path if len(parts.path) <= 100 else parts.path[:100] + "…"
    return f"{parts.scheme}://{host}{port}{path}" if host else "the link"
