"""What a yt-dlp failure means to the user, as one of the link errors.

- yt-dlp found nothing it understands (``UnsupportedError``) → :class:`UnsupportedLink`.
- The platform said no: an HTTP 4xx answer, geo restriction, or an error the extractor marked
  *expected* (login required, private, deleted, "fresh cookies are needed") →
  :class:`PlatformRefused` with the platform's reason.
- The guarded fetcher refused an address, or the network failed → :class:`LinkError` naming it.
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


def as_link_error(exc: BaseException, url: str) -> LinkError:
    """The link error for yt-dlp's failure ``exc`` (a ``DownloadError`` or what it wraps)."""
    chain = list(_causes(exc))
    fetch = next((e for e in chain if isinstance(e, FetchError)), None)
    if fetch is not None:
        return LinkError(fetch.message)
    if any(isinstance(e, UnsupportedError) for e in chain):
        return UnsupportedLink(f"this site is not supported: {_host(url)}")
    http = next((e for e in chain if isinstance(e, HTTPError)), None)
    if http is not None:
        answer = f"{http.status} {http.reason or ''}".strip()
        if 400 <= http.status < 500:
            return PlatformRefused(f"the platform refused the request (HTTP {answer})")
        return LinkError(f"the platform failed to answer (HTTP {answer})")
    transport = next((e for e in chain if isinstance(e, TransportError)), None)
    if transport is not None:
        return LinkError(f"could not reach the platform: {clean_message(str(transport.msg))}")
    extractor = next((e for e in chain if isinstance(e, ExtractorError)), None)
    if extractor is None:
        return LinkError(f"the link could not be analysed: {clean_message(str(exc))}")
    reason = clean_message(extractor.orig_msg)
    if _NO_FORMATS in reason.lower():
        return LinkError("the page has no video (it may be a photo post)")
    if isinstance(extractor, GeoRestrictedError) or extractor.expected:
        return PlatformRefused(reason)
    return LinkError(f"the link could not be analysed: {reason}")


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


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return "this address"
