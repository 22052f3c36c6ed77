"""The yt-dlp link analyzer against pages served on loopback; no internet needed.

Pages are shaped like the real ones (OpenGraph share pages, bare ``<video>`` pages, Kuaishou's
desktop and mobile share pages, short-link redirect chains). Kuaishou's extractor matches only
Kuaishou's hosts, so these tests route a subclass with a loopback ``_VALID_URL`` to the server.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError

from yinzi.engines.links import _formats
from yinzi.engines.links._errors import clean_message
from yinzi.engines.links._page import page_author
from yinzi.engines.links.base import LinkError, PlatformRefused, UnsupportedLink
from yinzi.engines.links.kuaishou import KuaishouIE, find_photo, page_state
from yinzi.engines.links.ytdlp import YtDlpAnalyzer
from yinzi.errors import ConfigurationError
from yinzi.fetcher import FetchPolicy, GuardedFetcher, IPAddress

OPEN_GRAPH_PAGE = """<!doctype html><html><head>
<title>A day at the sea | Example Video</title>
<meta property="og:title" content="A day at the sea">
<meta name="author" content="Alice Example">
<meta property="og:image" content="{base}/media/cover.jpg">
<meta property="og:video:url" content="/media/sea.mp4">
<meta property="og:video:type" content="video/mp4">
</head><body><p>Waves.</p></body></html>"""

VIDEO_ELEMENT_PAGE = """<html><head><title>Garden walk</title></head><body>
<video controls poster="/media/garden.jpg"><source src="/media/garden.mp4" type="video/mp4">
</video></body></html>"""

PLAIN_PAGE = "<html><head><title>Just words</title></head><body>No video.</body></html>"

APOLLO_STATE = {
    "defaultClient": {
        '$ROOT_QUERY.visionVideoDetail({"photoId":"3xdesk","page":"detail"})': {
            "status": 1,
            "author": {"type": "id", "id": "VisionVideoDetailAuthor:3xauthor"},
            "photo": {"type": "id", "id": "VisionVideoDetailPhoto:3xdesk"},
            "__typename": "VisionVideoDetail",
        },
        "VisionVideoDetailAuthor:3xauthor": {
            "id": "3xauthor",
            "name": "快手用户小王",
            "headerUrl": "https://p2.a.yximgs.com/uhead/a.jpg",
            "__typename": "VisionVideoDetailAuthor",
        },
        "VisionVideoDetailPhoto:3xdesk": {
            "id": "3xdesk",
            "duration": 15300,
            "caption": "海边的一天 #旅行",
            "coverUrl": "https://p1.a.yximgs.com/upic/cover.jpg",
            "photoUrl": "{base}/media/ks-h264.mp4",
            "photoH265Url": "{base}/media/ks-h265.mp4",
            "timestamp": 1700000000000,
            "__typename": "VisionVideoDetailPhoto",
        },
    }
}

INIT_STATE = {
    "tusjoh0sl6": {
        "result": 1,
        "photo": {
            "photoId": "3xmob",
            "caption": "山里的清晨",
            "userName": "摄影师阿明",
            "duration": 12000,
            "coverUrls": [{"cdn": "p2.a.yximgs.com", "url": "https://p2.a.yximgs.com/m.jpg"}],
            "mainMvUrls": [{"cdn": "v2.kwaicdn.com", "url": "{base}/media/ks-mobile.mp4"}],
            "soundTrack": {
                "name": "清晨 - 原声",
                "audioUrls": [{"cdn": "ali2.a.yximgs.com", "url": "{base}/media/track.m4a"}],
            },
        },
    },
    "hdsrtvd9": {"recommended": []},
}


def kuaishou_page(variable: str, state: dict[str, Any], base: str) -> str:
    # Real pages escape "/" as \u002F inside the JSON and remove the script right after.
    blob = json.dumps(state, ensure_ascii=False).replace("{base}", base).replace("/", "\\u002F")
    return (
        f"<html><head><title>快手</title></head><body><div id='app'></div><script>"
        f"window.{variable} = {blob};(function(){{var s;(s=document.currentScript)"
        f".parentNode.removeChild(s);}}());</script></body></html>"
    )


# -- a loopback site -------------------------------------------------------------------------


@dataclass
class Site:
    base: str
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def headers_for(self, path: str) -> dict[str, str]:
        return next(headers for seen, headers in self.seen if seen == path)


def _routes(base: str) -> dict[str, tuple[int, dict[str, str], str]]:
    html = {"Content-Type": "text/html; charset=utf-8"}
    return {
        "/watch/sea": (200, html, OPEN_GRAPH_PAGE.format(base=base)),
        "/watch/garden": (200, html, VIDEO_ELEMENT_PAGE),
        "/watch/words": (200, html, PLAIN_PAGE),
        "/short-video/3xdesk": (200, html, kuaishou_page("__APOLLO_STATE__", APOLLO_STATE, base)),
        "/fw/photo/3xmob": (200, html, kuaishou_page("INIT_STATE", INIT_STATE, base)),
        "/s/abc": (302, {"Location": "/r/abc?from=share"}, ""),
        "/r/abc": (302, {"Location": f"{base}/fw/photo/3xmob"}, ""),
        "/forbidden": (403, html, "<html><body>Access denied</body></html>"),
    }


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    routes = _routes(site.base)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            site.seen.append((path, dict(self.headers)))
            status, headers, body = routes.get(path, (404, {}, "not here"))
            data = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[ThreadingHTTPServer, Site]]:
    site = Site("")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    site.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield httpd, site
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def site(running: tuple[ThreadingHTTPServer, Site]) -> Site:
    running[1].seen.clear()
    return running[1]


class LoopbackKuaishouIE(KuaishouIE):
    _VALID_URL = r"http://127\.0\.0\.1:\d+/(?:short-video|fw/photo)/(?P<id>[\w-]+)"


INTERNAL_API = "https://www.youtube.com/youtubei/v1/next"
"""An address yt-dlp asks for on its own while analysing a link; the user never gave it."""


class ApiCallingIE(InfoExtractor):  # type: ignore[misc]
    """A platform whose extractor calls its API: ``/api-video/fetch`` asks the API (at an
    address the test's fetcher refuses), ``/api-video/broken`` fails with the API's URL in the
    message, as yt-dlp's extractors do."""

    _VALID_URL = r"http://127\.0\.0\.1:\d+/api-video/(?P<id>\w+)"

    def _real_extract(self, url: str) -> dict[str, Any]:
        video_id = self._match_id(url)
        if video_id == "broken":
            raise ExtractorError(
                f"Unable to download API page: HTTP Error 400 for {INTERNAL_API}?key=k"
            )
        self._download_json(INTERNAL_API, video_id)
        return {"id": video_id, "url": url}


class LoopbackAnalyzer(YtDlpAnalyzer):
    def _own_extractors(self) -> list[type[Any]]:
        return [LoopbackKuaishouIE, ApiCallingIE]


def analyzer(**options: Any) -> YtDlpAnalyzer:
    fetcher = GuardedFetcher(FetchPolicy(allow_private=True))
    return LoopbackAnalyzer(fetcher=fetcher, timeout_seconds=10, **options)


# -- generic pages ---------------------------------------------------------------------------


def test_an_open_graph_page_gives_title_author_cover_and_video(site: Site) -> None:
    info = analyzer().analyze(site.url("/watch/sea"))
    assert info.platform == "generic"
    assert info.title == "A day at the sea"
    assert info.author == "Alice Example"
    assert info.cover == site.url("/media/cover.jpg")
    assert info.video_url == site.url("/media/sea.mp4")
    assert info.http_headers["Referer"] == site.url("/watch/sea")
    assert info.music_url is None


def test_a_page_with_only_a_video_element(site: Site) -> None:
    info = analyzer().analyze(site.url("/watch/garden"))
    assert info.platform == "generic"
    assert info.title == "Garden walk"
    assert info.video_url == site.url("/media/garden.mp4")
    assert info.cover == site.url("/media/garden.jpg")


def test_a_page_without_a_video_is_unsupported(site: Site) -> None:
    with pytest.raises(UnsupportedLink, match=r"this site is not supported: 127\.0\.0\.1$"):
        analyzer().analyze(site.url("/watch/words"))


@pytest.mark.parametrize(("path", "status"), [("/watch/gone", "404"), ("/forbidden", "403")])
def test_a_refusing_platform_says_what_it_answered(site: Site, path: str, status: str) -> None:
    with pytest.raises(PlatformRefused, match=rf"refused the request \(HTTP {status} ") as caught:
        analyzer().analyze(site.url(path))
    assert "ERROR" not in caught.value.message and "yt-dlp" not in caught.value.message


def test_a_failed_api_call_names_the_users_link_not_the_api_address(site: Site) -> None:
    """The API's host resolves to a private address the fetcher refuses: no network needed."""
    api = ipaddress.ip_address("10.0.0.7")

    def resolve(host: str, port: int) -> list[IPAddress]:
        return [api if host == "www.youtube.com" else ipaddress.ip_address("127.0.0.1")]

    fetcher = GuardedFetcher(FetchPolicy(), resolver=resolve, address_allowed=lambda ip: ip != api)
    link = site.url("/api-video/fetch")
    with pytest.raises(LinkError) as caught:
        LoopbackAnalyzer(fetcher=fetcher, timeout_seconds=10).analyze(link + "?share=1")
    message = caught.value.message
    assert message.startswith(f"could not analyse {link}: "), message
    assert "10.0.0.7" in message  # why it failed
    assert "youtubei" not in message and "https://www.youtube.com" not in message


def test_an_api_address_in_an_extractor_message_is_cut_to_its_host(site: Site) -> None:
    link = site.url("/api-video/broken")
    with pytest.raises(LinkError) as caught:
        analyzer().analyze(link)
    assert caught.value.message == (
        f"could not analyse {link}: Unable to download API page: HTTP Error 400 for www.youtube.com"
    )


@pytest.mark.parametrize("link", ["hello", "ftp://example.com/a.mp4", "file:///etc/passwd"])
def test_only_web_addresses_are_analysed(link: str) -> None:
    with pytest.raises(LinkError, match=r"must be an http:// or https:// address"):
        analyzer().analyze(link)


# -- Kuaishou --------------------------------------------------------------------------------


def test_a_kuaishou_desktop_page_with_apollo_state(site: Site) -> None:
    info = analyzer().analyze(site.url("/short-video/3xdesk"))
    assert info.platform == "kuaishou"
    assert info.title == "海边的一天 #旅行"
    assert info.author == "快手用户小王"
    assert info.cover == "https://p1.a.yximgs.com/upic/cover.jpg"
    assert info.video_url == site.url("/media/ks-h264.mp4")  # H.264 over H.265
    assert info.http_headers["Referer"] == site.url("/short-video/3xdesk")


def test_a_kuaishou_mobile_share_page_with_init_state(site: Site) -> None:
    info = analyzer().analyze(site.url("/fw/photo/3xmob"))
    assert info.platform == "kuaishou"
    assert (info.title, info.author) == ("山里的清晨", "摄影师阿明")
    assert info.cover == "https://p2.a.yximgs.com/m.jpg"
    assert info.video_url == site.url("/media/ks-mobile.mp4")
    assert info.music_url == site.url("/media/track.m4a")
    assert "iPhone" in site.headers_for("/fw/photo/3xmob")["User-Agent"]


def test_a_short_link_follows_its_redirects_to_the_page(site: Site) -> None:
    info = analyzer().analyze(site.url("/s/abc"))
    assert [path for path, _ in site.seen][:3] == ["/s/abc", "/r/abc", "/fw/photo/3xmob"]
    assert info.platform == "kuaishou"
    assert info.webpage_url == site.url("/fw/photo/3xmob")
    assert info.video_url == site.url("/media/ks-mobile.mp4")


def test_the_photo_is_found_by_id_before_shape() -> None:
    state = {"list": [{"photoId": "other", "photoUrl": "https://a/1.mp4"}]}
    state["detail"] = [{"photoId": "wanted", "photoUrl": "https://a/2.mp4"}]
    assert find_photo(state, "wanted") == {"photoId": "wanted", "photoUrl": "https://a/2.mp4"}
    assert find_photo(state, "unknown") == {"photoId": "other", "photoUrl": "https://a/1.mp4"}


def test_a_state_with_javascript_literals_still_parses() -> None:
    page = '<script>window.INIT_STATE = {a: undefined, \'photo\': {"photoUrl": "x"}};</script>'
    assert page_state(page)["INIT_STATE"]["photo"] == {"photoUrl": "x"}


def test_production_matching_is_strict() -> None:
    assert KuaishouIE.suitable("https://www.kuaishou.com/short-video/3xabc?authorId=1")
    assert KuaishouIE.suitable("https://v.m.chenzhongtech.com/fw/photo/3xabc")
    assert KuaishouIE.suitable("https://m.gifshow.com/fw/photo/3xabc")
    assert KuaishouIE.suitable("https://v.kuaishou.com/AbCd12")
    assert not KuaishouIE.suitable("http://127.0.0.1:8000/short-video/3xabc")
    assert not KuaishouIE.suitable("https://kuaishou.com.evil.example/short-video/3x")


# -- formats, music, messages ----------------------------------------------------------------

DOUYIN_LIKE = {
    "url": "https://v.example/fallback.mp4",
    "formats": [  # yt-dlp's order: worst first
        {"format_id": "audio", "url": "https://m.example/music.mp3", "vcodec": "none",
         "format_note": "Music track", "acodec": "mp3"},
        {"format_id": "play_addr", "url": "https://aweme.example/aweme/v1/play/?video_id=1",
         "vcodec": "h264", "acodec": "aac", "http_headers": {"Referer": "https://douyin"}},
        {"format_id": "download_addr", "url": "https://aweme.example/aweme/v1/playwm/?id=1",
         "vcodec": "h264", "acodec": "aac", "format_note": "Download video, watermarked"},
        {"format_id": "playwm", "url": "https://aweme.example/aweme/v1/playwm/?id=2",
         "vcodec": "h264", "acodec": "aac"},
    ],
}  # fmt: skip


def test_the_watermark_free_format_wins_even_when_ranked_lower() -> None:
    chosen = _formats.pick_video_format(DOUYIN_LIKE)
    assert chosen is not None and chosen["format_id"] == "play_addr"
    assert _formats.video_url(DOUYIN_LIKE) == (chosen["url"], {"Referer": "https://douyin"})
    assert _formats.music_url(DOUYIN_LIKE) == "https://m.example/music.mp3"


def test_a_format_with_audio_beats_a_video_only_one_and_the_url_is_the_fallback() -> None:
    with_audio = {"url": "https://a/av.mp4", "vcodec": "avc1", "acodec": "mp4a"}
    video_only = {"url": "https://a/v.mp4", "vcodec": "avc1", "acodec": "none"}
    dash = {"formats": [with_audio, video_only]}
    assert _formats.video_url(dash)[0] == "https://a/av.mp4"
    assert _formats.video_url({"url": "https://a/only.mp4"})[0] == "https://a/only.mp4"


def test_our_extractors_surface_the_aweme_music() -> None:
    from yinzi.engines.links._extractors import _with_music

    app = {"music": {"play_url": {"url_list": ["https://sf.example/ies-music/1.mp3"]}}}
    assert _with_music({}, app) == {"music_url": "https://sf.example/ies-music/1.mp3"}
    assert _with_music({}, {"music": {"playUrl": "https://t.example/m.m4a"}})["music_url"]
    assert _with_music({"id": "1"}, {"music": {}}) == {"id": "1"}


def test_messages_lose_yt_dlp_boilerplate() -> None:
    raw = (
        "ERROR: [Douyin] 7123456: Fresh cookies (not necessarily logged in) are needed. "
        "Use --cookies-from-browser or --cookies for the authentication. "
        "See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ for how to pass cookies"
    )
    assert clean_message(raw) == "Fresh cookies (not necessarily logged in) are needed."
    assert clean_message("\x1b[0;31mERROR:\x1b[0m [generic] x: Video unavailable") == (
        "Video unavailable"
    )


def test_the_author_comes_from_json_ld_when_no_meta_names_one() -> None:
    ld = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage"}, {"@type": "VideoObject", "author": [{"name": "Bob"}]}]}  # fmt: skip
    page = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    assert page_author(page) == "Bob"
    assert page_author('<meta property="article:author" content="https://fb.com/x">') is None


# -- the network is the guarded fetcher's ----------------------------------------------------


def test_private_addresses_are_refused_although_yt_dlp_alone_would_fetch_them(
    site: Site,
) -> None:
    import yt_dlp

    with yt_dlp.YoutubeDL({"quiet": True}) as plain:
        assert plain.urlopen(site.url("/watch/sea")).status == 200  # yt-dlp's own handlers
    site.seen.clear()
    guarded = YtDlpAnalyzer(fetcher=GuardedFetcher(FetchPolicy()), timeout_seconds=10)
    with pytest.raises(LinkError, match=r"127\.0\.0\.1 is a loopback address") as caught:
        guarded.analyze(site.url("/watch/sea"))
    assert not isinstance(caught.value, UnsupportedLink)
    assert site.seen == []
    with guarded._youtube_dl(site.url("/watch/sea")) as ydl:
        assert list(ydl._request_director.handlers) == ["Guarded"]


def test_yt_dlp_runs_our_extractors_where_its_own_would_run() -> None:
    from yinzi.engines.links._extractors import DouyinMusicIE, PageIE, TikTokMusicIE

    plain = YtDlpAnalyzer(fetcher=GuardedFetcher(FetchPolicy()))
    with plain._youtube_dl("https://www.douyin.com/video/1") as ydl:
        keys = list(ydl._ies)
        assert keys.index("Kuaishou") < keys.index("Generic") == len(keys) - 1
        assert isinstance(ydl.get_info_extractor("Generic"), PageIE)
        assert isinstance(ydl.get_info_extractor("Douyin"), DouyinMusicIE)
        assert isinstance(ydl.get_info_extractor("TikTok"), TikTokMusicIE)
    assert DouyinMusicIE.suitable("https://www.iesdouyin.com/share/video/7123/?region=CN")


def test_an_unreadable_cookies_file_is_a_configuration_error(tmp_path: Path) -> None:
    broken = analyzer(cookies={"kuaishou": str(tmp_path / "missing.txt")})
    with pytest.raises(ConfigurationError, match="cookies file for kuaishou cannot be read"):
        broken.analyze("https://v.kuaishou.com/AbCd12")


def _cookie_file(path: Path, name: str, value: str) -> str:
    path.write_text(
        f"# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\t{name}\t{value}\n"
    )
    return str(path)


def test_only_the_platforms_own_cookies_are_sent(site: Site, tmp_path: Path) -> None:
    cookies = {
        "kuaishou": _cookie_file(tmp_path / "ks.txt", "did", "web_123"),
        "douyin": _cookie_file(tmp_path / "dy.txt", "ttwid", "not-for-kuaishou"),
    }
    info = analyzer(cookies=cookies).analyze(site.url("/fw/photo/3xmob"))
    assert site.headers_for("/fw/photo/3xmob")["Cookie"] == "did=web_123"
    assert "Cookie" not in info.http_headers
    assert (tmp_path / "ks.txt").read_text().count("web_123") == 1  # never written back


# -- through a proxy -------------------------------------------------------------------------


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy that answers every request with the OpenGraph page, for any host."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        body = OPEN_GRAPH_PAGE.format(base="http://video.example").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.requests  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _resolving_to(address: str) -> Callable[[str, int], list[IPAddress]]:
    return lambda host, port: [ipaddress.ip_address(address)]


def test_with_a_proxy_requests_go_through_it_and_targets_are_still_checked(
    proxy: tuple[str, list[str]],
) -> None:
    proxy_url, requests = proxy
    public = GuardedFetcher(FetchPolicy(), resolver=_resolving_to("93.184.216.34"))
    info = YtDlpAnalyzer(fetcher=public, proxy=proxy_url).analyze("http://video.example/watch/1")
    assert requests == ["http://video.example/watch/1"]
    assert info.video_url == "http://video.example/media/sea.mp4"
    private = GuardedFetcher(FetchPolicy(), resolver=_resolving_to("10.0.0.7"))
    with pytest.raises(LinkError, match=r"resolves to 10\.0\.0\.7, a private address"):
        YtDlpAnalyzer(fetcher=private, proxy=proxy_url).analyze("http://video.example/watch/2")
    assert len(requests) == 1
