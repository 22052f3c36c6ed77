"""Kuaishou (快手) share pages, which yt-dlp has no extractor for.

Pages it understands:

- desktop: ``https://www.kuaishou.com/short-video/<photoId>``;
- mobile share pages: ``https://v.m.chenzhongtech.com/fw/photo/<photoId>``,
  ``https://m.gifshow.com/fw/photo/<photoId>`` and ``https://*.kuaishou.com/fw/photo/<photoId>``;
- short links ``https://v.kuaishou.com/<code>``, which redirect to one of the above.

Both page kinds embed their state as JSON in a ``<script>``: desktop pages as
``window.__APOLLO_STATE__ = {"defaultClient": {"VisionVideoDetailPhoto:<id>": {...}, ...}}``
(an Apollo GraphQL cache: the photo holds ``caption``, ``coverUrl``, ``photoUrl`` /
``photoH265Url``, ``duration``; the author is a ``VisionVideoDetailAuthor`` with ``name``), mobile
pages as ``window.INIT_STATE = {...}`` whose ``photo`` objects hold ``caption``, ``userName``,
``coverUrls[].url``, ``mainMvUrls[].url`` and ``soundTrack`` / ``music`` with ``audioUrls``.

When Kuaishou changes its pages, the functions below are the places to update, one concern each:
:data:`STATE_VARIABLES` (where the JSON sits), :func:`find_photo` (what a photo object looks like),
:func:`photo_video_urls`, :func:`photo_cover`, :func:`photo_author` and :func:`photo_music`.
The background music's address is returned under ``music_url``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError, js_to_json

STATE_VARIABLES = ("__APOLLO_STATE__", "INIT_STATE", "__INITIAL_STATE__")
"""``window.<name> = {...}`` assignments that may hold the page state, tried in this order."""

_VIDEO_KEYS = ("photoUrl", "photoH265Url", "mainMvUrls", "mainMvUrlsH265", "manifest")
_PHOTO_PATH = re.compile(r"/(?:short-video|fw/photo|photo|video)/(?P<id>[\w-]+)")
_MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


class KuaishouIE(InfoExtractor):  # type: ignore[misc]
    IE_NAME = "kuaishou"
    IE_DESC = "Kuaishou (快手) short videos"
    _VALID_URL = (
        r"https?://(?:www\.)?kuaishou\.com/short-video/(?P<id>[\w-]+)",
        r"https?://(?:v\.m\.chenzhongtech\.com|(?:m\.|www\.)?gifshow\.com|"
        r"(?:[\w-]+\.)?kuaishou\.com)/fw/photo/(?P<id>[\w-]+)",
        r"https?://v\.kuaishou\.com/(?P<id>[\w-]+)",
    )

    def _real_extract(self, url: str) -> dict[str, Any]:
        mobile = "/short-video/" not in url
        headers = {"User-Agent": _MOBILE_UA} if mobile else {}
        webpage, handle = self._download_webpage_handle(url, self._match_id(url), headers=headers)
        page_url: str = handle.url
        match = _PHOTO_PATH.search(page_url)
        photo_id = match.group("id") if match else self._match_id(url)
        state = page_state(webpage)
        photo = find_photo(state, photo_id)
        if photo is None:
            raise ExtractorError(
                "Kuaishou showed no video on this page: it may be private or deleted, or "
                "Kuaishou wants cookies (it answered with a verification page)",
                expected=True,
            )
        return photo_info(photo, state, photo_id, page_url)


# -- finding the state ------------------------------------------------------------------------


def page_state(webpage: str) -> dict[str, Any]:
    """Every state blob the page embeds, by variable name (empty when there is none)."""
    states: dict[str, Any] = {}
    for name in STATE_VARIABLES:
        match = re.search(rf"window\.{re.escape(name)}\s*=\s*", webpage)
        if match:
            value = _json_at(webpage, match.end())
            if isinstance(value, dict):
                states[name] = value
    return states


def _json_at(text: str, start: int) -> Any:
    """The JSON value starting at ``start``; JavaScript literals (``undefined``) are tolerated."""
    decoder = json.JSONDecoder()
    try:
        return decoder.raw_decode(text, start)[0]
    except ValueError:
        script = text[start:].split("</script>", 1)[0]
        try:
            return decoder.raw_decode(js_to_json(script.strip().rstrip(";")))[0]
        except ValueError:
            return None


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside ``value``, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


# -- reading the photo ------------------------------------------------------------------------


def find_photo(state: Mapping[str, Any], photo_id: str) -> dict[str, Any] | None:
    """The photo (video) object: the one whose id is ``photo_id``, else the first of its shape."""
    photos = [obj for obj in _objects(state) if any(obj.get(k) for k in _VIDEO_KEYS)]
    for photo in photos:
        if photo_id in (photo.get("id"), photo.get("photoId"), photo.get("photo_id")):
            return photo
    return photos[0] if photos else None


def photo_info(
    photo: Mapping[str, Any], state: Mapping[str, Any], photo_id: str, page_url: str
) -> dict[str, Any]:
    headers = {"Referer": page_url}
    formats = [
        {"format_id": format_id, "url": url, "ext": "mp4", "http_headers": headers, **codec}
        for format_id, url, codec in photo_video_urls(photo)
    ]
    caption = str(photo.get("caption") or "").strip()
    return {
        "id": photo_id,
        "title": caption or photo_id,
        "description": caption or None,
        "uploader": photo_author(photo, state),
        "thumbnail": photo_cover(photo),
        "duration": _seconds(photo.get("duration")),
        "timestamp": _seconds(photo.get("timestamp")),
        "formats": formats,
        "http_headers": headers,
        "webpage_url": page_url,
        "music_url": photo_music(photo),
    }


def photo_video_urls(photo: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(format id, url, codec fields) for every video address; H.264 first, H.265 ranked lower
    because fewer players decode it."""
    h264 = {"vcodec": "h264", "preference": 0}
    h265 = {"vcodec": "h265", "preference": -1}
    found: list[tuple[str, str, dict[str, Any]]] = []
    for key, codec in (("photoUrl", h264), ("photoH265Url", h265)):
        if isinstance(photo.get(key), str):
            found.append((key, photo[key], codec))
    for key, codec in (("mainMvUrls", h264), ("mainMvUrlsH265", h265)):
        for index, url in enumerate(_urls(photo.get(key))):
            found.append((f"{key}-{index}", url, codec))
    representations = _objects(photo.get("manifest") or {})
    for index, rep in enumerate(r for r in representations if isinstance(r.get("url"), str)):
        found.append((f"manifest-{index}", rep["url"], {"preference": -2}))
    unique: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for item in found:
        unique.setdefault(item[1], item)
    return list(unique.values())


def photo_cover(photo: Mapping[str, Any]) -> str | None:
    for key in ("coverUrl", "poster", "coverUrls", "webpCoverUrls", "headUrl"):
        urls = _urls(photo.get(key))
        if urls:
            return urls[0]
    return None


def photo_author(photo: Mapping[str, Any], state: Mapping[str, Any]) -> str | None:
    """``userName`` on mobile pages; on desktop pages the Apollo ``...Author`` object's name."""
    for key in ("userName", "authorName", "user_name"):
        if isinstance(photo.get(key), str) and photo[key].strip():
            return str(photo[key]).strip()
    for obj in _objects(state):
        if str(obj.get("__typename", "")).endswith("Author") and isinstance(obj.get("name"), str):
            return str(obj["name"])
    for obj in _objects(state):
        if isinstance(obj.get("userName"), str) and obj["userName"].strip():
            return str(obj["userName"]).strip()
    return None


def photo_music(photo: Mapping[str, Any]) -> str | None:
    """The soundtrack's address: ``soundTrack`` or ``music`` with ``audioUrls`` (or ``url``)."""
    for key in ("soundTrack", "music", "musicInfo"):
        track = photo.get(key)
        if isinstance(track, Mapping):
            urls = _urls(track.get("audioUrls")) or _urls(track.get("url"))
            if urls:
                return urls[0]
    return None


def _urls(value: Any) -> list[str]:
    """Addresses from a string, a ``{"url": ...}`` object or a list of either."""
    if isinstance(value, str):
        url = "https:" + value if value.startswith("//") else value
        return [url] if url.startswith(("http://", "https://")) else []
    if isinstance(value, Mapping):
        return _urls(value.get("url"))
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    return []


def _seconds(milliseconds: Any) -> int | None:
    return (
        int(milliseconds // 1000)
        if isinstance(milliseconds, int | float) and milliseconds
        else None
    )
