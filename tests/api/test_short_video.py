"""Short-video analyze on the Open API: share texts, real-time charging, refunds and errors.

The "platforms" are pages served on loopback; the analysis price is 2 credits.
"""

from __future__ import annotations

import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.media import testing
from yinzi.services import billing
from yinzi.services.analyze import find_url
from yinzi.settings import LinkSettings

from conftest import FileServer
from helpers import User, make_settings, new_user

ANALYZE = "/api/open/v1/short-video/analyze"
IN_FLIGHT = 16  # YINZI_LINKS__MAX_CONCURRENT by default

PAGE = """<!doctype html><html><head>
<title>Sunset over the harbour</title>
<meta property="og:title" content="Sunset over the harbour">
<meta name="author" content="Mei Lin">
<meta property="og:image" content="{base}/cover.jpg">
<meta property="og:video" content="{base}/clip.mp4">
<meta property="og:video:type" content="video/mp4">
</head><body><p>a short video</p></body></html>"""


@pytest.fixture
def site(file_server: FileServer) -> FileServer:
    (file_server.root / "watch.html").write_text(PAGE.format(base=file_server.base))
    (file_server.root / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    testing.video_with_audio(file_server.root / "clip.mp4", seconds=2.0)
    (file_server.root / "empty.html").write_text("<html><head><title>x</title></head></html>")
    return file_server


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://v.douyin.com/iAbCdEf/", "https://v.douyin.com/iAbCdEf/"),
        (
            "7.25 复制打开抖音，看看【某某的作品】日落 https://v.douyin.com/iAbCdEf/ 0@5.com :8pm",
            "https://v.douyin.com/iAbCdEf/",
        ),
        ("看看这个视频 https://v.kuaishou.com/Ab12Cd，复制此链接", "https://v.kuaishou.com/Ab12Cd"),
        ("(see https://b23.tv/xYz12)", "https://b23.tv/xYz12"),
        ("52 小红书 xhslink.com/a/AbCd 复制本条信息", "https://xhslink.com/a/AbCd"),
    ],
)
def test_the_url_is_found_inside_share_texts(text: str, url: str) -> None:
    assert find_url(text) == url


def test_an_analysis_answers_the_seed_shape_and_charges_once(
    client: TestClient, user: User, site: FileServer
) -> None:
    share = f"2.05 复制打开看看【Mei Lin的作品】 {site.url('watch.html')} 复制此链接"
    answer = client.post(ANALYZE, json={"link": share}, headers=user.auth).json()
    assert answer["code"] == 0, answer
    data = answer["data"]
    assert set(data) == {"title", "author", "cover", "videoUrl", "musicUrl", "balance"}
    assert data["title"] == "Sunset over the harbour"
    assert data["author"] == "Mei Lin"
    assert data["cover"] == site.url("cover.jpg")
    assert data["videoUrl"] == site.url("clip.mp4")
    assert not data["musicUrl"]
    assert data["balance"] == 998
    again = client.post(ANALYZE, json={"link": share}, headers=user.auth).json()["data"]
    assert again["balance"] == 996  # a cached answer is still charged


def test_extract_music_stores_the_audio_track_as_a_private_upload(
    client: TestClient, user: User, site: FileServer, tmp_path: Path
) -> None:
    body = {"link": site.url("watch.html"), "extractMusic": True}
    data = client.post(ANALYZE, json=body, headers=user.auth).json()["data"]
    parts = urlsplit(data["musicUrl"])
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    (tmp_path / "music.mp3").write_bytes(response.content)
    assert media.probe(tmp_path / "music.mp3").duration == pytest.approx(2.0, abs=0.1)
    path_key = parts.path.removeprefix("/files/")
    order = {"orderType": "extract-voice", "stuff": {"pathKey": path_key}}
    created = client.post("/api/open/v1/order/create", json=order, headers=user.auth).json()
    assert created["code"] == 0  # the extracted music is the account's own file


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "link is required"),
        ({"link": "   "}, "link is required"),
        ({"link": "no address in here at all"}, "no link found"),
    ],
)
def test_bad_requests_are_refused_without_charging(
    client: TestClient, user: User, body: dict[str, Any], message: str
) -> None:
    answer = client.post(ANALYZE, json=body, headers=user.auth)
    assert answer.status_code == 400
    assert message in answer.json()["msg"]


def test_a_failed_analysis_is_refunded(client: TestClient, user: User, site: FileServer) -> None:
    for path in ("empty.html", "missing.html"):
        answer = client.post(ANALYZE, json={"link": site.url(path)}, headers=user.auth).json()
        assert answer["code"] == 400, answer
        assert answer["msg"] and "Traceback" not in answer["msg"]
    ok = client.post(ANALYZE, json={"link": site.url("watch.html")}, headers=user.auth).json()
    assert ok["data"]["balance"] == 998  # the two failures cost nothing


def test_a_music_extraction_that_fails_names_the_users_link_not_the_video_address(
    client: TestClient, user: User, site: FileServer
) -> None:
    page = PAGE.format(base=site.base).replace("clip.mp4", "gone.mp4")
    (site.root / "gone.html").write_text(page)
    body = {"link": site.url("gone.html"), "extractMusic": True}
    answer = client.post(ANALYZE, json=body, headers=user.auth).json()
    assert answer["code"] == 400, answer
    prefix = "could not take the music from the video of the link on 127.0.0.1: the server answered"
    assert answer["msg"].startswith(prefix), answer["msg"]
    assert "gone.mp4" not in answer["msg"]
    ok = client.post(ANALYZE, json={"link": site.url("watch.html")}, headers=user.auth).json()
    assert ok["data"]["balance"] == 998  # the failure was refunded


def test_an_account_without_credits_is_refused(
    client: TestClient, ctx: Any, site: FileServer
) -> None:

    poor = new_user(ctx, credits=1)
    answer = client.post(ANALYZE, json={"link": site.url("watch.html")}, headers=poor.auth)
    assert answer.json()["msg"] == "ErrorCode.USER_BLANCE_NOT_ENOUGH"


def test_private_addresses_are_refused_by_default(tmp_path: Path, site: FileServer) -> None:

    from helpers import new_user

    settings = make_settings(tmp_path / "strict")
    settings.fetch.allow_private = False
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    user = new_user(ctx)
    with TestClient(create_app(settings, ctx=ctx)) as strict:
        answer = strict.post(ANALYZE, json={"link": site.url("watch.html")}, headers=user.auth)
    ctx.close()
    assert answer.json()["code"] == 400
    assert "public addresses" in answer.json()["msg"]
    assert answer.json()["msg"]


class _Redirects(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        hops = {"/s/abc": "/r/1", "/r/1": self.target}
        self.send_response(302)
        self.send_header("Location", hops.get(self.path, "/s/abc"))
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_short_link_resolves_through_redirects(
    client: TestClient, user: User, site: FileServer
) -> None:
    _Redirects.target = site.url("watch.html")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirects)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        link = f"http://127.0.0.1:{server.server_address[1]}/s/abc"
        data = client.post(ANALYZE, json={"link": link}, headers=user.auth).json()["data"]
    finally:
        server.shutdown()
        server.server_close()
    assert data["title"] == "Sunset over the harbour"


class HangingSite:
    """A loopback "platform" that accepts connections and never answers, until closed."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


def test_hanging_links_hold_neither_the_request_threads_nor_more_than_a_few_per_account(
    tmp_path: Path, site: FileServer
) -> None:
    """Twelve accounts analyse a link that hangs, 48 requests at once (more than the threads that
    serve requests); another account's order query still answers at once, and a thirteenth
    request of one account is refused with 429 rather than queued."""
    settings = make_settings(tmp_path, links=LinkSettings(timeout_seconds=10))
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    attackers = [new_user(ctx) for _ in range(12)]
    bystander = new_user(ctx)
    hanging = HangingSite()
    link = f"http://127.0.0.1:{hanging.port}/video/1"
    try:
        with TestClient(create_app(settings, ctx=ctx)) as client:
            pending = [
                Thread(
                    target=client.post,
                    args=(ANALYZE,),
                    kwargs={"json": {"link": link}, "headers": user.auth},
                    daemon=True,
                )
                for user in attackers
                for _ in range(4)
            ]
            for thread in pending:
                thread.start()
            deadline = time.monotonic() + 15
            while len(hanging.held) < IN_FLIGHT and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(hanging.held) >= IN_FLIGHT
            time.sleep(2.0)  # time for every request to take a thread, if it could
            one_more = client.post(ANALYZE, json={"link": link}, headers=attackers[0].auth)
            started = time.monotonic()
            query = client.get(
                "/api/open/v1/order/query", params={"orderNo": "none"}, headers=bystander.auth
            )
            waited = time.monotonic() - started
            assert query.json()["msg"] == "Order not found"
            assert waited < 2.0, f"the order query waited {waited:.1f} s"
            assert one_more.status_code == 429 and one_more.json()["code"] == 429
            assert one_more.headers["retry-after"]
            hanging.close()
            for thread in pending:
                thread.join(30)
        with ctx.db.read() as session:  # every charge of a failed analysis was refunded
            assert all(billing.balance(session, u.id).available == 1000 for u in attackers)
    finally:
        hanging.close()
        ctx.close()
