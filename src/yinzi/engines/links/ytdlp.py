"""Short-video links analysed with yt-dlp, used as a library, over the guarded fetcher.

Invariants of every :meth:`YtDlpAnalyzer.analyze`:

- yt-dlp's network traffic all goes through the :class:`~yinzi.fetcher.GuardedFetcher`: its
  ``YoutubeDL`` has one request handler, ours (see :mod:`._handler`), so every address and every
  redirect hop is checked and pinned.
- Nothing is downloaded or written: no media, no cache directory, no cookie file (the platform's
  cookies.txt is read into this call's cookie jar, never saved back), no config files (those are
  read only by yt-dlp's command line) and no plugins from the user's directories. No external
  program (ffmpeg, a JavaScript runtime) is run.
- Only that platform's cookies are loaded: the platform is decided from the URL's host, or from
  which of Yinzi's own extractors matches it.
- Failures are :class:`LinkError` subclasses with messages fit for the user (see :mod:`._errors`).
"""

from __future__ import annotations

import http.cookiejar
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from yinzi.engines.links.base import LinkError, UnsupportedLink, VideoInfo
from yinzi.errors import ConfigurationError
from yinzi.fetcher import GuardedFetcher

if TYPE_CHECKING:
    from yinzi.engines.links._handler import GuardedYoutubeDL

log = logging.getLogger(__name__)

PLATFORM_HOSTS: Mapping[str, tuple[str, ...]] = {
    "douyin": ("douyin.com", "iesdouyin.com"),
    "kuaishou": ("kuaishou.com", "chenzhongtech.com", "gifshow.com"),
    "xiaohongshu": ("xiaohongshu.com", "xhslink.com"),
    "weibo": ("weibo.com", "weibo.cn"),
    "bilibili": ("bilibili.com", "b23.tv"),
    "tiktok": ("tiktok.com",),
    "instagram": ("instagram.com",),
    "youtube": ("youtube.com", "youtu.be"),
}
"""Platform keys (as used in the ``cookies`` option) and the host names that belong to each."""

_GENERIC_EXTRACTORS = frozenset({"generic", "html5", "html5mediaembed"})


class YtDlpAnalyzer:
    """Analyses share links on the platforms yt-dlp knows, Kuaishou, and generic video pages.

    ``cookies`` maps a platform key of :data:`PLATFORM_HOSTS` to a Netscape cookies.txt file;
    ``proxy`` (``http://``, ``https://``) is an admin's trusted proxy every request goes through;
    ``timeout_seconds`` bounds one whole analysis, redirects and API calls included.
    """

    name = "links.ytdlp"

    def __init__(
        self,
        *,
        fetcher: GuardedFetcher,
        cookies: Mapping[str, str] | None = None,
        proxy: str | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._fetcher = fetcher.with_proxy(proxy) if proxy else fetcher
        self._cookies = dict(cookies or {})
        self._timeout = timeout_seconds

    def analyze(self, url: str) -> VideoInfo:
        url = url.strip()
        if not _is_web_address(url):
            raise LinkError("the link must be an http:// or https:// address")
        try:
            with self._youtube_dl(url) as ydl:
                info = ydl.extract_info(url, download=False)
        except (LinkError, ConfigurationError):
            raise
        except Exception as exc:  # yt-dlp wraps most failures, but extractor bugs escape raw
            log.debug("yt-dlp failed on a link", exc_info=True)
            from yinzi.engines.links._errors import as_link_error

            raise as_link_error(exc, url) from exc
        return self._video_info(info, url)

    # -- one YoutubeDL per call ---------------------------------------------------------------

    def _youtube_dl(self, url: str) -> GuardedYoutubeDL:
        from yinzi.engines.links._extractors import DouyinMusicIE, PageIE, TikTokMusicIE
        from yinzi.engines.links._handler import GuardedYoutubeDL

        _disable_plugins()
        ydl = GuardedYoutubeDL(
            _params(self._timeout), fetcher=self._fetcher, timeout_seconds=self._timeout
        )
        for extractor in self._own_extractors():  # ahead of yt-dlp's generic extractor
            ydl.add_info_extractor(extractor())
        ydl.add_default_info_extractors()
        for replacement in (PageIE, TikTokMusicIE, DouyinMusicIE):  # same keys: in place
            ydl.add_info_extractor(replacement())
        self._load_cookies(ydl, url)
        return ydl

    def _own_extractors(self) -> list[type[Any]]:
        """Extractors for sites yt-dlp lacks; tests add loopback variants here."""
        from yinzi.engines.links.kuaishou import KuaishouIE

        return [KuaishouIE]

    def _load_cookies(self, ydl: GuardedYoutubeDL, url: str) -> None:
        platform = self._platform_for_url(url)
        path = self._cookies.get(platform) if platform else None
        if not path:
            return
        try:
            ydl.cookiejar.load(path)
        except (OSError, http.cookiejar.LoadError) as exc:
            reason = getattr(exc, "strerror", None) or "it is not a Netscape cookies.txt file"
            message = f"the cookies file for {platform} cannot be read: {reason}"
            raise ConfigurationError(message) from exc

    def _platform_for_url(self, url: str) -> str | None:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return None
        for platform, domains in PLATFORM_HOSTS.items():
            if any(host == d or host.endswith("." + d) for d in domains):
                return platform
        for extractor in self._own_extractors():
            if extractor.suitable(url):
                return platform_of(str(extractor.IE_NAME))
        return None

    # -- the result ---------------------------------------------------------------------------

    def _video_info(self, info: Mapping[str, Any] | None, url: str) -> VideoInfo:
        from yinzi.engines.links import _formats

        if not info:
            raise LinkError("the link could not be analysed: yt-dlp returned nothing")
        if info.get("_type") in ("playlist", "multi_video", "url", "url_transparent"):
            raise UnsupportedLink("this link is a playlist or a profile, not a single video")
        video_url, headers = _formats.video_url(info)
        return VideoInfo(
            platform=platform_of(str(info.get("extractor_key") or info.get("extractor") or "")),
            webpage_url=str(info.get("webpage_url") or url),
            title=str(info.get("title") or info.get("description") or ""),
            author=_formats.author(info),
            cover=_formats.cover_url(info),
            video_url=video_url,
            music_url=_formats.music_url(info),
            http_headers=headers,
        )


def platform_of(extractor: str) -> str:
    """The platform key for a yt-dlp extractor name (``XiaoHongShu`` → ``xiaohongshu``)."""
    name = extractor.lower()
    if name in _GENERIC_EXTRACTORS or not name:
        return "generic"
    return next((platform for platform in PLATFORM_HOSTS if platform in name), name)


def _is_web_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _params(timeout_seconds: float) -> dict[str, Any]:
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _Log(),
        "color": "no_color",
        "skip_download": True,
        "simulate": True,
        "noplaylist": True,
        "extract_flat": "in_playlist",
        "format": "b/bv*/ba*",
        "check_formats": False,
        "cachedir": False,
        "proxy": "",  # not yt-dlp's environment proxies: the fetcher carries Yinzi's proxy
        "socket_timeout": timeout_seconds,
        "retries": 0,
        "extractor_retries": 0,
        "geo_bypass": False,
        "js_runtimes": {},
        "remote_components": [],
    }


def _disable_plugins() -> None:
    """Keep yt-dlp from importing plugins from the user's directories (``~/.yt-dlp-plugins``)."""
    from yt_dlp.globals import all_plugins_loaded, plugin_dirs

    if not all_plugins_loaded.value:
        plugin_dirs.value = []


class _Log:
    """yt-dlp's messages go to Python logging at debug level, never to stdout or stderr."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        log.debug("yt-dlp warning: %s", message)

    def error(self, message: str) -> None:
        log.debug("yt-dlp error: %s", message)
