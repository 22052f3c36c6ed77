"""yt-dlp extractors adjusted to what an analysis returns; they replace yt-dlp's own by key.

- :class:`PageIE` is yt-dlp's generic extractor plus what share pages need: a video named only
  by ``og:video:url`` / ``og:video:secure_url`` (yt-dlp reads plain ``og:video`` only, and only
  with a file extension), the page's own title and author for the video found, and the first
  video of a page rather than a playlist of all of them.
- :class:`TikTokMusicIE` and :class:`DouyinMusicIE` add the background music's address, which
  the aweme JSON holds (``music.play_url.url_list`` in the app form, ``music.playUrl`` on the
  web) but yt-dlp does not surface, under :data:`MUSIC_URL`; Douyin's also matches the
  ``iesdouyin.com/share/video/<id>`` pages that ``v.douyin.com`` short links lead to.

Each keeps the ``ie_key`` and ``IE_NAME`` of the extractor it extends, so adding an instance to a
``YoutubeDL`` after the defaults replaces that extractor in place (same matching order) and
``url_result(..., 'Generic')`` references reach it.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urljoin

from yt_dlp.extractor.generic import GenericIE
from yt_dlp.extractor.tiktok import DouyinIE, TikTokIE
from yt_dlp.utils import determine_ext, traverse_obj, url_or_none

from yinzi.engines.links._formats import MUSIC_URL
from yinzi.engines.links._page import page_author


class PageIE(GenericIE):  # type: ignore[misc]
    IE_NAME = "generic"

    @classmethod
    def ie_key(cls) -> str:
        return "Generic"

    def _extract_embeds(
        self, url: str, webpage: str, *, urlh: Any = None, info_dict: Any = None
    ) -> list[dict[str, Any]]:
        info = dict(info_dict or {})
        entries = list(super()._extract_embeds(url, webpage, urlh=urlh, info_dict=info))
        if not entries:
            entries = self._open_graph_video(urlh.url if urlh else url, webpage, info)
        if not entries:
            return []
        first: dict[str, Any] = entries[0]
        if first.get("_type") in (None, "video"):  # found on this page, not a link elsewhere
            author = page_author(webpage)
            first = {**first, **({"title": info["title"]} if info.get("title") else {})}
            first = {**first, **({"uploader": author} if author else {})}
        return [first]

    def _open_graph_video(
        self, page_url: str, webpage: str, info: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = self._og_search_video_url(webpage, default=None)
        if not found:
            return []
        video_url = urljoin(page_url, found)
        kind = (self._og_search_property("video:type", webpage, default="") or "").lower()
        if kind.startswith("text/html"):
            return [self.url_result(video_url)]  # a player page: whoever understands it
        ext = determine_ext(video_url, default_ext="mp4")
        return [
            {
                "id": self._generic_id(page_url),
                "url": video_url,
                "ext": "m3u8" if "mpegurl" in kind else ext,
                "title": info.get("title") or self._generic_title(page_url, webpage),
                "thumbnail": info.get("thumbnail"),
                "http_headers": {"Referer": page_url},
            }
        ]


def _with_music(info: dict[str, Any], aweme_detail: Any) -> dict[str, Any]:
    music = traverse_obj(
        aweme_detail,
        ("music", "play_url", "url_list", 0, {url_or_none}),
        ("music", "playUrl", {url_or_none}),
        ("music", "play_url", "uri", {url_or_none}),
    )
    return {**info, MUSIC_URL: music} if music else info


class _AwemeMusic:
    """Adds :data:`MUSIC_URL` to what a TikTok-family extractor parses from aweme JSON."""

    def _parse_aweme_video_app(self, aweme_detail: Any) -> Any:
        info = cast(Any, super())._parse_aweme_video_app(aweme_detail)
        return _with_music(info, aweme_detail)

    def _parse_aweme_video_web(self, aweme_detail: Any, *args: Any, **kwargs: Any) -> Any:
        info = cast(Any, super())._parse_aweme_video_web(aweme_detail, *args, **kwargs)
        return _with_music(info, aweme_detail)


class TikTokMusicIE(_AwemeMusic, TikTokIE):  # type: ignore[misc]
    IE_NAME = "TikTok"

    @classmethod
    def ie_key(cls) -> str:
        return "TikTok"


class DouyinMusicIE(_AwemeMusic, DouyinIE):  # type: ignore[misc]
    """Also takes the share pages ``v.douyin.com`` short links redirect to, which yt-dlp's
    Douyin extractor does not match (it needs only the id, for Douyin's web API)."""

    IE_NAME = "Douyin"
    _VALID_URL = (
        DouyinIE._VALID_URL,
        r"https?://(?:www\.)?iesdouyin\.com/share/video/(?P<id>[0-9]+)",
    )

    @classmethod
    def ie_key(cls) -> str:
        return "Douyin"
