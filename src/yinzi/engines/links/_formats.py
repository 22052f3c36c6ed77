"""Choosing what an analysis returns from a yt-dlp info dict: the video, the music, the cover.

The video is the best format *without a watermark* where a platform offers both. yt-dlp marks
the watermarked ones in ``format_note`` ("watermarked", "Download video, watermarked") and with a
lower ``preference``; Douyin's classic addresses say it in the path (``/playwm/`` against
``/play/``) and format id (``playwm``). Among the rest, a format with both video and audio beats
a video-only one, a direct http(s) file beats a streaming manifest, and otherwise yt-dlp's own
order (worst to best, after its format sorting) decides. Unplayable formats (ByteDance's bytevc2)
are never chosen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

MUSIC_URL = "music_url"
"""Info-dict key under which Yinzi's extractors put the background music's address."""

_WATERMARK = re.compile(r"watermark|(?:^|[/_-])playwm(?:$|[/?_-])", re.IGNORECASE)
_DIRECT = frozenset({"http", "https"})
_AUTHOR_FIELDS = ("uploader", "creator", "channel", "uploader_id")


def is_watermarked(fmt: Mapping[str, Any]) -> bool:
    """Whether yt-dlp (or the address itself) says this format carries a watermark."""
    labels = (fmt.get("format_note"), fmt.get("format_id"), fmt.get("url"))
    return any(isinstance(label, str) and _WATERMARK.search(label) for label in labels)


def pick_video_format(info: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The format to return as the video, or None when the info dict lists no video format."""
    formats: Sequence[Mapping[str, Any]] = info.get("formats") or ()
    candidates = [
        (index, fmt)
        for index, fmt in enumerate(formats)
        if fmt.get("url") and fmt.get("vcodec") != "none" and not _unplayable(fmt)
    ]
    if not candidates:
        return None
    _, best = max(candidates, key=lambda pair: (*_rank(pair[1]), pair[0]))
    return best


def video_url(info: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """The video's address and the headers its download needs (chosen format, else the info)."""
    fmt = pick_video_format(info) or info
    url = fmt.get("url") if isinstance(fmt.get("url"), str) else None
    headers = fmt.get("http_headers") or info.get("http_headers") or {}
    return url, {k: str(v) for k, v in headers.items() if k.lower() != "cookie"}


def music_url(info: Mapping[str, Any]) -> str | None:
    """The platform's own background-music address: set by our extractors, or a format yt-dlp
    labels as the music track (TikTok's ``audio`` / "Music track" formats)."""
    value = info.get(MUSIC_URL)
    if isinstance(value, str) and value:
        return value
    for fmt in info.get("formats") or ():
        note = str(fmt.get("format_note") or "").lower()
        if fmt.get("vcodec") == "none" and "music" in note and isinstance(fmt.get("url"), str):
            return str(fmt["url"])
    return None


def cover_url(info: Mapping[str, Any]) -> str | None:
    """``thumbnail``, else the best of ``thumbnails`` (yt-dlp sorts them worst first)."""
    if isinstance(info.get("thumbnail"), str):
        return str(info["thumbnail"])
    urls = [t["url"] for t in info.get("thumbnails") or () if isinstance(t.get("url"), str)]
    return urls[-1] if urls else None


def author(info: Mapping[str, Any]) -> str:
    for field in _AUTHOR_FIELDS:
        value = info.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _rank(fmt: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    return (
        not is_watermarked(fmt),
        fmt.get("acodec") != "none",
        _protocol(fmt) in _DIRECT,
    )


def _protocol(fmt: Mapping[str, Any]) -> str:
    protocol = fmt.get("protocol")
    if isinstance(protocol, str) and protocol:
        return protocol
    return str(fmt.get("url") or "").partition(":")[0].lower()


def _unplayable(fmt: Mapping[str, Any]) -> bool:
    return "unplayable" in str(fmt.get("format_note") or "").lower()
