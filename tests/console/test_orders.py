"""Orders in the console: a user uploads a song, runs a separation, watches it, plays and
downloads the results and finds the charge in the ledger; every order type can be submitted from
the form; a failed order shows why; cancel and delete-results; nobody else can see any of it.

The server is a real one (uvicorn and a worker thread, spectral separation, PocketSphinx).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from console.visitors import Visitor, visitor
from playwright.sync_api import Browser, Page, expect
from sdk.conftest import Server

from yinzi.media import testing
from yinzi.services import billing, pricing
from yinzi.services.orders import OrderStatus

from conftest import FileServer

URL = "https://example.com/song.mp3"
ORDER_PAGE = re.compile(r".*/console/orders/([A-Za-z0-9]{18})$")


@pytest.fixture
def song_file(tmp_path: Path) -> Path:
    path = tmp_path / "my song.wav"
    testing.song(path, seconds=3.0)
    return path


def _wait_until_finished(page: Page, seconds: float = 90) -> None:
    """Reload the order page until it says the order finished (the page follows it live too)."""
    deadline = time.monotonic() + seconds
    status = page.locator("#order-status")
    while status.inner_text() != "Finished":
        assert status.inner_text() not in ("Failed", "Timed out"), page.content()
        assert time.monotonic() < deadline, "the order did not finish"
        time.sleep(0.5)
        page.reload()


def test_a_user_uploads_a_song_separates_it_plays_the_vocals_and_sees_the_charge(
    server: Server, new_page: Callable[..., Page], song_file: Path
) -> None:
    user = visitor(server, credits=100)
    page = user.sign_in(new_page())
    page.goto("/console/orders/new")
    page.get_by_label("Order type").select_option("track-separation")
    page.get_by_label("Audio file").set_input_files(song_file)

    expect(page.locator("#upload-status")).to_contain_text("Uploaded: my_song.wav")
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    exact = pricing.quote(server.settings, "track-separation", seconds=3.0).credits
    expect(page.locator('[data-quote-credits="track-separation"]')).to_have_text(str(exact))

    page.get_by_role("button", name="Create order").click()
    page.wait_for_url(ORDER_PAGE)
    match = ORDER_PAGE.match(page.url)
    assert match is not None
    order_no = match.group(1)
    expect(page.locator("progress[data-field=progress]")).to_be_visible()
    _wait_until_finished(page)

    vocals = page.locator('audio[data-business="vocals"]')
    duration = vocals.evaluate(
        """audio => new Promise((resolve, reject) => {
             if (audio.readyState >= 1) resolve(audio.duration);
             audio.addEventListener("loadedmetadata", () => resolve(audio.duration));
             audio.addEventListener("error", () => reject(new Error("audio did not load")));
           })"""
    )
    assert duration == pytest.approx(3.0, abs=0.3)
    vocals.evaluate("audio => { audio.muted = true; return audio.play(); }")
    expect(vocals).to_have_js_property("paused", False)

    with page.expect_download() as download_info:
        page.locator('a[download][href$="/results/accompaniment.mp3"]').click()
    download = download_info.value
    assert download.suggested_filename == "accompaniment.mp3"
    assert Path(download.path()).stat().st_size > 1000

    order = user.order(order_no)
    assert order.cost == exact
    page.get_by_role("link", name="Credits").click()
    rows = page.locator(f'tr[data-order="{order_no}"]')
    expect(rows).to_have_count(2)  # the hold, then the charge
    expect(rows.first).to_contain_text("Charge")
    expect(page.locator("#credits-available")).to_have_text(str(100 - exact))
    with server.ctx.db.read() as session:
        assert billing.balance(session, user.id).available == 100 - exact


def _create(user: Visitor, files: dict[str, tuple[str, bytes]] | None = None, **fields: str) -> str:
    with user.client() as client:
        response = client.post(
            "/console/orders", data={"csrf_token": user.csrf, **fields}, files=files
        )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/console/orders/")
    return location.rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ({"order_type": "track-separation", "format": "wav"}, {"format": "wav"}),
        ({"order_type": "extract-voice"}, {"format": "mp3"}),
        ({"order_type": "extract-music", "format": "flac"}, {"format": "flac"}),
        ({"order_type": "extract-text", "language": "en"}, {"language": "en"}),
        ({"order_type": "split_stem"}, {"format": "mp3"}),
        (
            {"order_type": "split_stem_advanced", "stem_name": "Lead Vocal"},
            {"format": "mp3", "stemName": "Lead Vocal"},
        ),
    ],
)
def test_every_audio_order_type_can_be_submitted_with_a_url(
    server: Server, song: str, fields: dict[str, str], options: dict[str, str]
) -> None:
    user = visitor(server)
    order_no = _create(user, url=song, **fields)
    order = user.order(order_no)
    assert order.order_type == fields["order_type"]
    assert order.source == song
    assert order.options == options
    assert order.held == pricing.quote(server.settings, order.order_type).minimum


def test_text_to_music_holds_its_quoted_price(server: Server) -> None:
    user = visitor(server)
    order_no = _create(user, order_type="text-to-music", text="calm piano by the sea", length="6")
    order = user.order(order_no)
    assert order.options["text"] == "calm piano by the sea" and order.options["length"] == 6
    assert order.held == pricing.quote(server.settings, "text-to-music", length=6).credits
    assert user.wait_ended(order_no).status == OrderStatus.FINISH


def test_without_javascript_the_form_posts_the_file_itself(server: Server, song_file: Path) -> None:
    user = visitor(server)
    files = {"file": ("song.wav", song_file.read_bytes())}
    order_no = _create(user, files=files, order_type="extract-voice")
    order = user.wait_ended(order_no)
    assert order.source.startswith("uploads/") and order.source.endswith("/song.wav")
    assert order.status == OrderStatus.FINISH
    assert order.cost == pricing.quote(server.settings, "extract-voice", seconds=3.0).credits


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"order_type": "track-separation"}, "choose an audio file or give an audio URL"),
        ({"order_type": "text-to-music", "text": "你好", "length": "4"}, "English letters"),
        ({"order_type": "text-to-music", "text": "rain", "length": "40"}, "not greater than 12"),
        (
            {"order_type": "extract-text", "url": "https://x.test/a.mp3", "language": "??"},
            "language",
        ),
        (
            {"order_type": "split_stem_advanced", "url": "https://x.test/a", "stem_name": "Kazoo"},
            "Kazoo",
        ),
        ({"order_type": "teleport", "url": URL}, "Unsupported orderType"),
        ({"order_type": "extract-voice", "url": "x" * 3000}, "at most 2048 characters"),
    ],
)
def test_bad_input_is_shown_in_the_form_with_the_values_kept(
    server: Server, fields: dict[str, str], message: str
) -> None:
    user = visitor(server)
    with user.client() as client:
        response = client.post("/console/orders", data={"csrf_token": user.csrf, **fields})
    assert response.status_code in (400, 422)
    assert message in response.text
    if "text" in fields:
        assert f">{fields['text']}</textarea>" in response.text
    with server.ctx.db.read() as session:
        assert billing.balance(session, user.id).available == 1000


def test_a_user_without_enough_credits_is_told_so(server: Server, song: str) -> None:
    user = visitor(server, credits=3)
    with user.client() as client:
        data = {"csrf_token": user.csrf, "order_type": "track-separation", "url": song}
        response = client.post("/console/orders", data=data)
    assert response.status_code == 402
    assert "You do not have enough credits for this order." in response.text


def test_uploads_answer_json_with_the_price_of_each_type(server: Server, song_file: Path) -> None:
    user = visitor(server)
    with user.client() as client:
        files = {"file": ("song.wav", song_file.read_bytes())}
        headers = {"X-CSRF-Token": user.csrf}
        answer = client.post("/console/uploads", files=files, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["pathKey"].startswith("uploads/") and body["filename"] == "song.wav"
        assert body["seconds"] == pytest.approx(3.0, abs=0.05)
        expected = pricing.quote(server.settings, "split_stem", seconds=body["seconds"])
        assert body["quotes"]["split_stem"] == expected.credits
        assert body["quotes"]["text-to-music"] is None

        text = {"file": ("notes.txt", b"not audio at all")}
        refused = client.post("/console/uploads", files=text, headers=headers)
        assert refused.status_code == 400
        assert "upload an audio or video file" in refused.json()["error"]

        forged = client.post("/console/uploads", files=files)
        assert forged.status_code == 403


def test_a_failed_order_shows_its_reason(
    server: Server, new_page: Callable[..., Page], file_server: FileServer
) -> None:
    user = visitor(server)
    order_no = _create(user, order_type="extract-voice", url=file_server.url("missing.wav"))
    user.wait_ended(order_no)
    page = user.sign_in(new_page())
    page.goto(f"/console/orders/{order_no}")
    expect(page.locator("#order-status")).to_have_text("Failed")
    expect(page.locator("#order-reason")).to_contain_text("404")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)


def test_a_pending_order_is_cancelled_and_its_credits_come_back(
    yinzi_server: Callable[..., Server], browser: Browser
) -> None:
    server = yinzi_server(worker=False)  # nothing runs the order: it stays pending
    user = visitor(server, credits=50)
    order_no = _create(user, order_type="text-to-music", text="slow rain", length="5")
    context = browser.new_context(base_url=server.url, locale="en-US")
    page = user.sign_in(context.new_page())
    page.goto(f"/console/orders/{order_no}")
    expect(page.locator("#order-status")).to_have_text("Waiting")
    expect(page.locator("body")).to_have_attribute("data-reload-on-end", "")
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator("#order-status")).to_have_text("Failed")
    expect(page.locator("#order-reason")).to_contain_text("cancel")
    with server.ctx.db.read() as session:
        assert billing.balance(session, user.id).available == 50
    context.close()


def test_results_are_deleted_on_request(
    server: Server, new_page: Callable[..., Page], song: str
) -> None:
    user = visitor(server)
    order_no = _create(user, order_type="extract-music", url=song)
    user.wait_ended(order_no)
    page = user.sign_in(new_page())
    page.goto(f"/console/orders/{order_no}")
    expect(page.locator('audio[data-business="accompaniment"]')).to_have_count(1)
    page.get_by_role("button", name="Delete results").click()
    expect(page.get_by_text("The results of this order were deleted.")).to_be_visible()
    expect(page.locator("audio")).to_have_count(0)
    with user.client() as client:
        gone = client.get(f"/console/orders/{order_no}/results/accompaniment.mp3")
    assert gone.status_code == 404
    assert user.order(order_no).results == []


def test_another_account_cannot_see_or_touch_an_order(server: Server, song: str) -> None:
    owner, other = visitor(server), visitor(server)
    order_no = _create(owner, order_type="extract-voice", url=song)
    owner.wait_ended(order_no)
    paths = [f"/console/orders/{order_no}", f"/console/orders/{order_no}/results/vocals.mp3"]
    with owner.client() as client:
        assert client.get(paths[0]).status_code == 200
        assert client.get(paths[1]).status_code == 307
    with other.client() as client:
        for path in paths:
            assert client.get(path).status_code == 404, path
        for action in ("cancel", "delete-results"):
            data = {"csrf_token": other.csrf}
            answer = client.post(f"/console/orders/{order_no}/{action}", data=data)
            assert answer.status_code == 404, action
        listed = client.get("/console/orders")
        assert order_no not in listed.text
    assert owner.order(order_no).results != []


def test_the_list_filters_by_status_and_type_and_pages(
    yinzi_server: Callable[..., Server],
) -> None:
    server = yinzi_server(worker=False)
    user = visitor(server)
    made = [_create(user, order_type="text-to-music", text="waves", length="1") for _ in range(21)]
    voice = _create(user, order_type="extract-voice", url=URL)
    with user.client() as client:
        first = client.get("/console/orders")
        assert first.text.count("data-live-order=") == 20
        assert "Page 1 of 2" in first.text and voice in first.text
        second = client.get("/console/orders", params={"page": "2"})
        assert second.text.count("data-live-order=") == 2
        music = client.get("/console/orders", params={"type": "text-to-music"}).text
        assert voice not in music and made[-1] in music
        voices = client.get(
            "/console/orders", params={"type": "extract-voice", "status": "pending"}
        )
        assert voices.text.count("data-live-order=") == 1
        finished = client.get("/console/orders", params={"status": "finish"})
        assert "No orders here yet." in finished.text


def test_a_short_video_analysis_is_shown_on_the_page(
    server: Server, new_page: Callable[..., Page], file_server: FileServer
) -> None:
    page_html = (
        '<html><head><meta property="og:title" content="Harbour at dusk">'
        '<meta name="author" content="Mei Lin">'
        f'<meta property="og:image" content="{file_server.url("cover.jpg")}">'
        f'<meta property="og:video" content="{file_server.url("clip.mp4")}">'
        "</head><body></body></html>"
    )
    (file_server.root / "watch.html").write_text(page_html)
    user = visitor(server)
    page = user.sign_in(new_page())
    page.goto("/console/orders/new")
    page.get_by_label("Share link").fill(f"看看这个视频 {file_server.url('watch.html')} 复制此链接")
    page.get_by_role("button", name="Analyze").click()
    result = page.locator("#analysis")
    expect(result).to_contain_text("Harbour at dusk")
    expect(result).to_contain_text("Mei Lin")
    expect(result.get_by_role("link", name="Open the video")).to_have_attribute(
        "href", file_server.url("clip.mp4")
    )
    expect(result).to_contain_text(str(1000 - server.settings.prices.short_video_analyze))


def test_a_refused_order_keeps_the_file_it_was_sent_with(server: Server, song_file: Path) -> None:
    user = visitor(server)
    files = {"file": ("song.wav", song_file.read_bytes())}
    fields = {"csrf_token": user.csrf, "order_type": "split_stem_advanced", "stem_name": "Kazoo"}
    with user.client() as client:
        refused = client.post("/console/orders", data=fields, files=files)
        assert refused.status_code == 422 and "Kazoo" in refused.text
        kept = re.search(r'name="path_key" id="order-path-key" value="([^"]+)"', refused.text)
        assert kept is not None and kept.group(1).endswith("/song.wav")
        assert "Uploaded: song.wav" in refused.text
        fields |= {"stem_name": "Lead Vocal", "path_key": kept.group(1)}
        created = client.post("/console/orders", data=fields)
    assert created.status_code == 303
    order = user.order(created.headers["location"].rsplit("/", 1)[1])
    assert order.source == kept.group(1) and order.options["stemName"] == "Lead Vocal"


def test_a_failed_analysis_is_explained_on_the_page_and_costs_nothing(
    server: Server, file_server: FileServer
) -> None:
    (file_server.root / "empty.html").write_text("<html><head><title>x</title></head></html>")
    user = visitor(server)
    with user.client() as client:
        for link in ("no address in here", file_server.url("empty.html")):
            answer = client.post(
                "/console/orders/analyze", data={"csrf_token": user.csrf, "link": link}
            )
            assert answer.status_code == 400
            assert 'class="error" role="alert" lang="en"' in answer.text
            assert f">{link}</textarea>" in answer.text
            assert 'id="analysis"' not in answer.text
    with server.ctx.db.read() as session:
        assert billing.balance(session, user.id).available == 1000
