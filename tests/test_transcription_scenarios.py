"""Stories of users ordering transcripts (extract-text), end to end with the default engine.

Prices: extract-text holds 5 credits and costs ``max(5, 2 * started minutes)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import srt
import webvtt
from fastapi.testclient import TestClient

from yinzi import media
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.settings import Settings

from conftest import FileServer
from helpers import User, drain

FIXTURES = Path(__file__).parent / "fixtures" / "speech"
CREATE = "/api/open/v1/order/create"


def _speech() -> tuple[Path, str]:
    wav = sorted(FIXTURES.glob("*.wav"))[0]
    return wav, wav.with_suffix(".txt").read_text().strip().lower()


def _order(client: TestClient, user: User, path_key: str, **stuff: str) -> str:
    body = {"orderType": "extract-text", "stuff": {"pathKey": path_key, **stuff}}
    answer = client.post(CREATE, json=body, headers=user.auth).json()
    assert answer["code"] == 0, answer
    return str(answer["data"]["orderNo"])


def _query(client: TestClient, user: User, order_no: str) -> dict:  # type: ignore[type-arg]
    data: dict = client.get(  # type: ignore[type-arg]
        f"/api/open/v1/order/query?orderNo={order_no}", headers=user.auth
    ).json()["data"]
    return data


def _files(client: TestClient, result: dict) -> dict[str, str]:  # type: ignore[type-arg]
    out = {}
    for stuff in result["stuffs"]:
        parts = urlsplit(stuff["url"])
        out[stuff["business"]] = client.get(f"{parts.path}?{parts.query}").text
    return out


def _mp4_with(audio_path: Path, dest: Path) -> Path:
    """An MP4 (H.264 + AAC) carrying the audio of ``audio_path`` under a moving picture."""
    import av

    audio = media.read_all(audio_path, sample_rate=44100, channels=2)
    with av.open(str(dest), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=44100)
        sound.layout = "stereo"
        seconds = audio.shape[1] / 44100
        for i in range(int(seconds * 10)):
            picture = np.full((64, 64, 3), (i * 7) % 255, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for start in range(0, audio.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio[:, start : start + 1024]), format="fltp", layout="stereo"
            )
            frame.sample_rate = 44100
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return dest


def _word_overlap(got: str, expected: str) -> float:
    want = expected.replace(".", " ").replace(",", " ").split()
    have = set(got.lower().split())
    return sum(w in have for w in want) / len(want)


@pytest.mark.parametrize("container", ["wav", "mp4"])
def test_a_user_gets_the_text_and_captions_of_speech(
    client: TestClient,
    user: User,
    worker: Worker,
    file_server: FileServer,
    container: str,
) -> None:
    wav, expected = _speech()
    name = wav.name
    if container == "mp4":
        name = _mp4_with(wav, file_server.root / "talk.mp4").name
    else:
        (file_server.root / name).write_bytes(wav.read_bytes())
    order_no = _order(client, user, file_server.url(name))
    drain(worker)
    result = _query(client, user, order_no)
    assert result["status"] == "finish", result
    assert result["cost"] == 5 and result["balance"] == 995
    assert [(s["name"], s["business"]) for s in result["stuffs"]] == [
        ("transcript.srt", "caption"),
        ("transcript.txt", "text"),
        ("transcript.vtt", "vtt"),
        ("transcript.json", "segments"),
    ]
    files = _files(client, result)
    assert _word_overlap(files["text"], expected) >= 0.6
    duration = media.probe(wav).duration
    cues = list(srt.parse(files["caption"]))
    assert cues and all(c.end.total_seconds() <= duration + 0.05 for c in cues)
    assert [c.content for c in cues] == [c.text for c in webvtt.from_string(files["vtt"])]
    segments = json.loads(files["segments"])
    assert segments["language"] == "en" and segments["segments"][0]["words"]


def test_silence_finishes_with_empty_text_and_no_cues(
    client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    media.write_audio(
        file_server.root / "quiet.wav",
        np.zeros((1, 16000 * 4), np.float32),
        format="wav",
        sample_rate=16000,
    )
    order_no = _order(client, user, file_server.url("quiet.wav"))
    drain(worker)
    result = _query(client, user, order_no)
    assert result["status"] == "finish", result
    files = _files(client, result)
    assert files["text"] == ""
    assert list(srt.parse(files["caption"])) == []


def test_a_video_without_audio_fails_with_a_full_refund(
    client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    testing.video_without_audio(file_server.root / "mute.mp4")
    order_no = _order(client, user, file_server.url("mute.mp4"))
    drain(worker)
    result = _query(client, user, order_no)
    assert (result["status"], result["cost"], result["balance"]) == ("failed", 0, 1000)
    assert result["reason"] == "the file has no audio stream"


def test_a_language_the_engine_lacks_fails_saying_which_it_has(
    settings: Settings, client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    settings.transcription_engine = "transcription.pocketsphinx"  # English only
    wav, _ = _speech()
    (file_server.root / wav.name).write_bytes(wav.read_bytes())
    order_no = _order(client, user, file_server.url(wav.name), language="zh")
    drain(worker)
    result = _query(client, user, order_no)
    assert (result["status"], result["balance"]) == ("failed", 1000)
    assert "'zh'" in result["reason"] and "en" in result["reason"]


def test_a_malformed_language_is_refused_at_once(client: TestClient, user: User) -> None:
    body = {
        "orderType": "extract-text",
        "stuff": {"pathKey": "https://e.com/a.mp4", "language": "x!"},
    }
    answer = client.post(CREATE, json=body, headers=user.auth)
    assert answer.status_code == 400
    assert "language" in answer.json()["msg"]


def test_whisper_orders_use_the_configured_model(
    client: TestClient, user: User, worker: Worker, file_server: FileServer, tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper")
    from yinzi.engines.transcription.testing import build_tiny_whisper

    settings = worker.ctx.settings
    settings.transcription_engine = "transcription.faster_whisper"
    settings.whisper.download_dir = str(tmp_path / "empty-cache")
    settings.whisper.model = "tiny"  # not on this machine
    testing.tone(file_server.root / "beep.wav", seconds=2.0)
    order_no = _order(client, user, file_server.url("beep.wav"))
    drain(worker)
    result = _query(client, user, order_no)
    assert (result["status"], result["balance"]) == ("failed", 1000)
    assert "yinzi models install whisper-tiny" in result["reason"]

    settings.whisper.model = str(build_tiny_whisper(tmp_path / "tiny-model"))
    order_no = _order(client, user, file_server.url("beep.wav"), language="zh")
    drain(worker)
    result = _query(client, user, order_no)
    assert result["status"] == "finish", result
    assert json.loads(_files(client, result)["segments"])["language"] == "zh"


def _whisper_by_default(settings: Settings) -> None:
    """Skip unless the default engine choice (``auto``) lands on Whisper here."""
    from yinzi.engines import registry

    assert settings.transcription_engine == "auto"
    name, why = registry.choose("transcription", "auto", settings.engine_options)
    if name != "transcription.faster_whisper":
        pytest.skip(f"the default engine here is {name} ({why}); install whisper-base")


def test_by_default_whisper_detects_the_language_and_says_how_sure_it_is(
    settings: Settings, client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    _whisper_by_default(settings)
    wav, expected = _speech()
    (file_server.root / wav.name).write_bytes(wav.read_bytes())
    order_no = _order(client, user, file_server.url(wav.name))  # language: auto
    drain(worker)
    result = _query(client, user, order_no)
    assert result["status"] == "finish", result
    files = _files(client, result)
    assert _word_overlap(files["text"], expected) >= 0.8
    segments = json.loads(files["segments"])
    assert segments["language"] == "en" and segments["language_probability"] > 0.5


def test_a_user_asks_for_mandarin_captions_in_traditional_characters(
    settings: Settings, client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    from yinzi.engines.transcription import _chinese

    _whisper_by_default(settings)
    wav = FIXTURES / "zh_train_station.wav"
    (file_server.root / wav.name).write_bytes(wav.read_bytes())
    simplified = _order(client, user, file_server.url(wav.name), language="zh")
    traditional = _order(client, user, file_server.url(wav.name), language="zh-TW")
    drain(worker)
    texts = {}
    for order_no in (simplified, traditional):
        result = _query(client, user, order_no)
        assert result["status"] == "finish", result
        files = _files(client, result)
        texts[json.loads(files["segments"])["language"]] = files["text"].strip()
        assert list(srt.parse(files["caption"]))
    assert set(texts) == {"zh", "zh-TW"}
    assert texts["zh"] and _chinese.converter("zh")(texts["zh"]) == texts["zh"]
    assert texts["zh-TW"] == _chinese.converter("zh-TW")(texts["zh"])
