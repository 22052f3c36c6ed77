"""The blocking SDK client against a real server: a user uploads, orders, watches and downloads."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk.conftest import Server, ServerFactory

from yinzi import media
from yinzi.media import testing
from yinzi.sdk import Client, Order, OrderFailed, VideoInfo, WaitTimeout

from conftest import FileServer


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, server.user.key, timeout=10.0) as yinzi:
        yield yinzi


def test_a_user_uploads_orders_watches_and_downloads_decodable_stems(
    client: Client, tmp_path: Path
) -> None:
    song = testing.song(tmp_path / "song.wav", seconds=3.0)
    order = client.create("track-separation", song, format="wav")
    assert (order.order_type, order.status) == ("track-separation", "pending")
    seen: list[Order] = []
    done = client.wait(order.order_no, on_progress=seen.append, timeout=60, poll=0.1)
    assert done.ok and done.done and done.cost == 10
    progress = [o.progress for o in seen]
    assert progress == sorted(progress) and progress[-1] == 100, progress
    assert seen[-1].stage == "done"
    paths = client.download(done, tmp_path / "out")
    assert [p.name for p in paths] == ["vocals.wav", "accompaniment.wav"]
    for path in paths:
        assert media.probe(path).duration == pytest.approx(3.0, abs=0.1)
    assert client.balance() == 990


def test_the_one_call_helpers_separate_transcribe_and_compose(
    client: Client, song: str, tmp_path: Path
) -> None:
    ticks: list[Order] = []
    vocals = client.separate(
        song, stems=["vocals"], dest=tmp_path / "sep", on_progress=ticks.append
    )
    assert vocals == [tmp_path / "sep" / "vocals.mp3"]
    assert media.probe(vocals[0]).duration == pytest.approx(3.0, abs=0.2)
    assert ticks and ticks[-1].ok
    captions = client.transcribe(song, language="en", formats=["srt", "json"], dest=tmp_path / "tx")
    assert [p.name for p in captions] == ["transcript.srt", "transcript.json"]  # type: ignore[union-attr]
    music = client.compose("calm piano", 2, dest=tmp_path / "music")
    assert isinstance(music, list) and media.probe(music[0]).duration > 1.0
    order = client.separate(song)  # without dest: the finished order
    assert isinstance(order, Order) and {f.business for f in order.files} == {
        "vocals",
        "accompaniment",
    }


def test_other_stems_use_split_stem(client: Client, song: str, tmp_path: Path) -> None:
    paths = client.separate(song, stems=["drums", "bass"], dest=tmp_path)
    assert [p.name for p in paths] == ["drums.mp3", "bass.mp3"]  # type: ignore[union-attr]
    assert client.list().items[0].order_type == "split_stem"


def test_a_failed_order_raises_order_failed_with_the_order(client: Client, tmp_path: Path) -> None:
    order = client.create("track-separation", "http://127.0.0.1:9/missing.mp3")
    with pytest.raises(OrderFailed) as failed:
        client.wait(order.order_no, timeout=60, poll=0.1)
    assert failed.value.order.status == "failed" and failed.value.order.reason


def test_wait_gives_up_after_its_timeout(yinzi_server: ServerFactory, song: str) -> None:
    server = yinzi_server(worker=False)
    with Client(server.url, server.user.key) as idle:
        order = idle.create("extract-voice", song)
        with pytest.raises(WaitTimeout) as timed_out:
            idle.wait(order.order_no, timeout=0.5, poll=0.1)
    assert timed_out.value.order is not None and timed_out.value.order.status == "pending"


def test_orders_are_listed_newest_first_page_by_page(
    yinzi_server: ServerFactory, song: str
) -> None:
    server = yinzi_server(worker=False)
    with Client(server.url, server.user.key) as client:
        made = [client.create("extract-music", song).order_no for _ in range(3)]
        first = client.list(per_page=2)
        assert (first.total, first.page, first.per_page, first.next_page) == (3, 1, 2, 2)
        assert [o.order_no for o in first.items] == made[::-1][:2]
        assert client.list(page=2, per_page=2).next_page is None
        assert [o.order_no for o in client.iter_orders(per_page=2)] == made[::-1]
        assert client.list(status="finish").total == 0
        assert client.list(order_type="extract-music").total == 3
        assert client.get(made[0]).queue_position == 1


def test_a_pending_order_is_cancelled_and_its_credits_come_back(
    yinzi_server: ServerFactory, song: str
) -> None:
    server = yinzi_server(worker=False)
    with Client(server.url, server.user.key) as client:
        order = client.create("track-separation", song)
        assert client.balance() == 990
        cancelled = client.cancel(order.order_no)
        assert (cancelled.status, cancelled.reason) == ("failed", "cancelled by the user")
        assert client.balance() == 1000
        with pytest.raises(OrderFailed):
            client.wait(order.order_no, timeout=5)


def test_results_are_deleted_on_request(client: Client, song: str) -> None:
    order = client.separate(song)
    assert isinstance(order, Order) and order.files
    emptied = client.delete_results(order.order_no)
    assert emptied.files == [] and "deleted" in (emptied.reason or "")
    assert client.get(order.order_no).files == []


def test_analyze_reads_a_share_link(client: Client, file_server: FileServer) -> None:
    page = (
        "<html><head><title>Harbour</title>"
        '<meta property="og:title" content="Harbour"><meta name="author" content="Mei Lin">'
        f'<meta property="og:video" content="{file_server.url("clip.mp4")}">'
        '<meta property="og:video:type" content="video/mp4"></head></html>'
    )
    (file_server.root / "watch.html").write_text(page)
    testing.video_with_audio(file_server.root / "clip.mp4", seconds=1.0)
    info = client.analyze(f"look at this {file_server.url('watch.html')} !")
    assert info == VideoInfo(
        title="Harbour",
        author="Mei Lin",
        cover=None,
        video_url=file_server.url("clip.mp4"),
        music_url=None,
        balance=998,
    )


def test_importing_the_sdk_leaves_the_server_dependencies_alone() -> None:
    heavy = ("fastapi", "sqlalchemy", "numpy", "av", "pydantic_settings", "pydantic", "uvicorn")
    code = f"import sys, yinzi.sdk; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
