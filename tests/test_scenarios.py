"""Stories of users ordering separations, run end to end: HTTP → queue → worker → download.

Prices here are the defaults: a separation holds 10 credits at create and costs
``max(10, 5 * started minutes)``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.context import Context
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.settings import Price, Prices

from conftest import FileServer
from helpers import User, drain, new_user

CREATE = "/api/open/v1/order/create"


def _create(client: TestClient, user: User, order_type: str, path_key: str, **stuff: str) -> str:
    body = {"orderType": order_type, "stuff": {"pathKey": path_key, **stuff}}
    response = client.post(CREATE, json=body, headers=user.auth).json()
    assert response["code"] == 0, response
    return str(response["data"]["orderNo"])


def _query(client: TestClient, user: User, order_no: str) -> dict:  # type: ignore[type-arg]
    response = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=user.auth)
    data: dict = response.json()["data"]  # type: ignore[type-arg]
    return data


def _download(client: TestClient, url: str, dest: Path) -> Path:
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    dest.write_bytes(response.content)
    return dest


def test_a_user_uploads_a_song_and_gets_vocals_and_accompaniment(
    client: TestClient, user: User, worker: Worker, tmp_path: Path
) -> None:
    song = testing.song(tmp_path / "song.wav", seconds=6.0)
    with song.open("rb") as f:
        upload = client.post(
            "/api/open/v1/file/upload", files={"file": ("song.wav", f)}, headers=user.auth
        ).json()
    order_no = _create(client, user, "track-separation", upload["data"]["pathKey"])
    assert drain(worker) == 1
    result = _query(client, user, order_no)
    assert result["status"] == "finish"
    assert (result["cost"], result["reason"], result["balance"]) == (10, None, 990)
    assert [(s["name"], s["business"]) for s in result["stuffs"]] == [
        ("vocals.mp3", "vocals"),
        ("accompaniment.mp3", "accompaniment"),
    ]
    vocals_true, accomp_true = testing.song_stems(6.0)
    for stuff, truth in zip(result["stuffs"], (vocals_true, accomp_true), strict=True):
        path = _download(client, stuff["url"], tmp_path / stuff["name"])
        info = media.probe(path)
        assert info.duration == pytest.approx(6.0, abs=0.1)
        estimate = media.read_all(path)
        n = min(estimate.shape[1], truth.shape[1])
        # the estimate resembles its own stem more than the other one
        other = accomp_true if truth is vocals_true else vocals_true
        assert _corr(estimate[:, :n], truth[:, :n]) > _corr(estimate[:, :n], other[:, :n])


def _corr(a: np.ndarray, b: np.ndarray) -> float:  # type: ignore[type-arg]
    return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def test_extract_voice_from_a_url_as_wav_gives_only_vocals(
    client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    testing.song(file_server.root / "song.mp3", seconds=3.0)
    order_no = _create(client, user, "extract-voice", file_server.url("song.mp3"), format="wav")
    drain(worker)
    result = _query(client, user, order_no)
    assert result["status"] == "finish", result
    assert [(s["name"], s["business"]) for s in result["stuffs"]] == [("vocals.wav", "vocals")]


def test_extract_music_from_a_video_gives_only_accompaniment(
    client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    testing.video_with_audio(file_server.root / "clip.mp4", seconds=2.0)
    order_no = _create(client, user, "extract-music", file_server.url("clip.mp4"), format="flac")
    drain(worker)
    result = _query(client, user, order_no)
    assert result["status"] == "finish", result
    assert [(s["name"], s["business"]) for s in result["stuffs"]] == [
        ("accompaniment.flac", "accompaniment")
    ]


BAD_INPUTS = {
    "text named .mp3": (lambda d: testing.text_as_mp3(d / "bad.mp3"), "bad.mp3"),
    "empty file": (lambda d: testing.empty_file(d / "empty.mp3"), "empty.mp3"),
    "truncated mp4": (
        lambda d: testing.truncated(
            testing.video_with_audio(d / "full.mp4", seconds=2.0), d / "cut.mp4", 0.3
        ),
        "cut.mp4",
    ),
    "video without audio": (
        lambda d: testing.video_without_audio(d / "silent.mp4"),
        "silent.mp4",
    ),
    "404 url": (lambda d: None, "missing.mp3"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_the_order_refunds_it_and_the_worker_goes_on(
    client: TestClient, user: User, worker: Worker, file_server: FileServer, case: str
) -> None:
    make, name = BAD_INPUTS[case]
    make(file_server.root)
    testing.song(file_server.root / "good.wav", seconds=2.0)
    bad = _create(client, user, "track-separation", file_server.url(name))
    good = _create(client, user, "extract-voice", file_server.url("good.wav"))
    assert drain(worker) == 2
    failed = _query(client, user, bad)
    assert failed["status"] == "failed"
    assert failed["cost"] == 0 and failed["stuffs"] == []
    assert failed["reason"] and "internal error" not in failed["reason"]
    assert _query(client, user, good)["status"] == "finish"
    assert failed["balance"] == 1000 - 10  # only the good order was paid


def test_the_hold_follows_the_real_duration(
    client: TestClient, ctx: Context, worker: Worker, file_server: FileServer
) -> None:
    ctx.settings.prices = Prices(track_separation=Price(minimum=10, per_minute=20))
    worker.ctx.settings.prices = ctx.settings.prices
    testing.tone(file_server.root / "long.wav", seconds=61.0, channels=1)
    rich = new_user(ctx, credits=100)
    order_no = _create(client, rich, "track-separation", file_server.url("long.wav"))
    drain(worker)
    result = _query(client, rich, order_no)
    assert (result["status"], result["cost"], result["balance"]) == ("finish", 40, 60)

    poor = new_user(ctx, credits=15)
    order_no = _create(client, poor, "track-separation", file_server.url("long.wav"))
    drain(worker)
    result = _query(client, poor, order_no)
    assert result["status"] == "failed"
    assert result["reason"] == "ErrorCode.USER_BLANCE_NOT_ENOUGH"
    assert (result["cost"], result["balance"]) == (0, 15)


def test_each_query_signs_fresh_links_and_strangers_cannot_see_them(
    client: TestClient, ctx: Context, user: User, worker: Worker, file_server: FileServer
) -> None:
    testing.song(file_server.root / "song.wav", seconds=2.0)
    order_no = _create(client, user, "extract-voice", file_server.url("song.wav"))
    drain(worker)
    ctx.settings.link_ttl_seconds = 100
    first = _query(client, user, order_no)["stuffs"][0]["url"]
    ctx.settings.link_ttl_seconds = 200
    second = _query(client, user, order_no)["stuffs"][0]["url"]
    assert first != second
    stranger = new_user(ctx)
    response = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=stranger.auth)
    assert response.json()["msg"] == "Order not found"
