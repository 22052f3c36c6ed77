"""``transcription.faster_whisper`` with the real Whisper weights: what a user hears back.

These run the installed ``whisper-base`` model (``make install`` puts it in the models folder)
on the speech fixtures and on music made here, and skip, saying why, where it is missing. Quality
floors sit well below what the model measures (see the fixtures' README), so they catch a broken
pipeline, not a model's bad day. Each case is a few seconds of audio: about a second of CPU.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import srt

from yinzi import media
from yinzi.engines.transcription import _chinese
from yinzi.engines.transcription.faster_whisper import FasterWhisperTranscriber
from yinzi.engines.transcription.metrics import cer, wer
from yinzi.media import captions
from yinzi.settings import Settings

from helpers import instrumental

Audio = npt.NDArray[np.float32]
RATE = FasterWhisperTranscriber.sample_rate
FIXTURES = Path(__file__).parent.parent / "fixtures" / "speech"


@pytest.fixture(scope="module")
def base() -> FasterWhisperTranscriber:
    models_dir = str(Settings().models_dir)
    missing = FasterWhisperTranscriber.availability(model="base", models_dir=models_dir)
    if missing is not None:
        pytest.skip(f"the Whisper model whisper-base is not installed here: {missing}")
    return FasterWhisperTranscriber(model="base", models_dir=models_dir, cpu_threads=2)


def fixture(name: str) -> tuple[Audio, str]:
    (path,) = (p for p in FIXTURES.glob(f"{name}.*") if p.suffix != ".txt")
    audio = media.read_all(path, sample_rate=RATE, channels=1)[0]
    return audio, path.with_suffix(".txt").read_text(encoding="utf-8").strip()


def blocks(audio: Audio, size: int = RATE) -> Iterator[Audio]:
    for start in range(0, audio.size, size):
        yield audio[None, start : start + size]


# -- what is said ------------------------------------------------------------------------------


def test_english_speech_is_transcribed(base: FasterWhisperTranscriber) -> None:
    audio, reference = fixture("call_me_back")
    result = base.transcribe(blocks(audio), language="en")
    text = " ".join(segment.text for segment in result.segments)
    assert wer(reference, text) <= 0.5  # measured 0.0 (whisper-base, int8)


def test_the_language_is_detected_with_its_probability(base: FasterWhisperTranscriber) -> None:
    audio, reference = fixture("call_me_back")
    result = base.transcribe(blocks(audio))
    text = " ".join(segment.text for segment in result.segments)
    assert result.language == "en"
    assert result.language_probability is not None and 0.5 < result.language_probability <= 1
    assert wer(reference, text) <= 0.5


def test_mandarin_comes_out_in_simplified_characters(base: FasterWhisperTranscriber) -> None:
    audio, reference = fixture("zh_train_station")
    result = base.transcribe(blocks(audio), language="zh")
    segments = list(result.segments)
    text = "".join(segment.text for segment in segments)
    assert result.language == "zh"
    assert cer(reference, text) <= 0.6  # measured 0.31 on this robotic voice
    assert _chinese.converter("zh")(text) == text  # nothing left to simplify
    words = "".join(word.text for segment in segments for word in segment.words)
    assert _chinese.converter("zh")(words) == words


@pytest.mark.parametrize("tag", ["zh-TW", "zh-hant"])
def test_traditional_characters_are_given_when_asked_for(
    base: FasterWhisperTranscriber, tag: str
) -> None:
    audio, reference = fixture("zh_train_station")
    result = base.transcribe(blocks(audio), language=tag)
    text = "".join(segment.text for segment in result.segments)
    assert result.language == _chinese.canonical(tag)
    assert _chinese.converter(tag)(text) == text
    assert _chinese.converter("zh")(text) != text  # it has Traditional characters
    assert cer(_chinese.converter(tag)(reference), text) <= 0.6


# -- what is not said --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(instrumental(), id="chords-and-drums"),
        pytest.param(instrumental(seed=1)[::-1].copy(), id="reversed-band"),
        pytest.param(
            (0.05 * np.random.default_rng(2).standard_normal(8 * RATE)).astype(np.float32),
            id="noise",
        ),
        pytest.param(np.zeros(6 * RATE, np.float32), id="silence"),
    ],
)
def test_sound_without_speech_gives_no_text(base: FasterWhisperTranscriber, audio: Audio) -> None:
    assert list(base.transcribe(blocks(audio)).segments) == []


# -- what the user downloads -------------------------------------------------------------------


def test_captions_of_a_long_talk_follow_the_rules(
    base: FasterWhisperTranscriber, tmp_path: Path
) -> None:
    talk, reference = fixture("packing_list")  # 22 s in one breath: segments of 7 s or more
    result = base.transcribe(blocks(talk), language="en")
    segments = list(result.segments)
    assert wer(reference, " ".join(s.text for s in segments)) <= 0.5  # measured 0.14
    duration = talk.size / RATE
    files = {f.business: f.path for f in captions.write_all(tmp_path, segments, "en", duration)}

    cues = list(srt.parse(files["caption"].read_text(encoding="utf-8")))
    assert len(cues) >= 4
    previous_end = 0.0
    for cue in cues:
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        assert previous_end <= start < end <= duration + 1e-3
        assert end - start <= 7.0 + 1e-3
        lines = cue.content.split("\n")
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
        previous_end = end
    spoken = " ".join(c.content.replace("\n", " ") for c in cues).split()
    assert spoken == " ".join(s.text for s in segments).split()


def test_chinese_captions_are_cut_between_characters(
    base: FasterWhisperTranscriber, tmp_path: Path
) -> None:
    audio, _ = fixture("zh_train_station")
    result = base.transcribe(blocks(np.concatenate([audio] * 3)), language="zh")
    segments = list(result.segments)
    files = captions.write_all(tmp_path, segments, result.language, 3 * audio.size / RATE)
    by_name = {f.business: f.path for f in files}

    for cue in srt.parse(by_name["caption"].read_text(encoding="utf-8")):
        assert " " not in cue.content  # no space put between Chinese characters
        assert all(captions.width(line) <= 42 for line in cue.content.split("\n"))
    data = json.loads(by_name["segments"].read_text(encoding="utf-8"))
    assert data["language"] == "zh" and data["language_probability"] is None
