"""The link-analysis interface.

An analyzer takes the URL of a short-video page (a share link, possibly a short link that
redirects) and returns what the page offers: title, author, cover, a watermark-free video address
and the background music's address where the platform exposes one. Every request it makes goes
through the platform's guarded fetcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from yinzi.errors import InputError


@dataclass(frozen=True, slots=True)
class VideoInfo:
    platform: str
    """Which extractor understood the page, e.g. ``douyin``, ``kuaishou``, ``generic``."""
    webpage_url: str
    title: str
    author: str
    cover: str | None
    video_url: str | None
    """The watermark-free video where the platform offers one."""
    music_url: str | None
    """The platform's own background-music address, when it exposes one."""
    http_headers: Mapping[str, str] = field(default_factory=dict)
    """Headers a download of ``video_url`` needs (Referer, User-Agent, cookies)."""


class LinkError(InputError):
    """The link could not be analysed"""

    code = "link_failed"


class UnsupportedLink(LinkError):
    """This site is not supported"""

    code = "unsupported_link"


class PlatformRefused(LinkError):
    """The platform refused the request"""

    code = "platform_refused"


class LinkAnalyzer(Protocol):
    name: str

    def analyze(self, url: str) -> VideoInfo:
        """Analyse ``url``; raises UnsupportedLink, PlatformRefused or another LinkError."""
        ...
