"""Tests for the offline ``transcription.pocketsphinx`` engine, on a committed speech fixture."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from yinzi import media
from yinzi.engines import registry
from yinzi.engines.transcription._vad import UtteranceSplitter, VadSettings
from yinzi.engines.transcription.base import Segment, Transcriber, UnsupportedLanguage
from yinzi.engines.transcription.metrics import wer
from yinzi.engines.transcription.pocketsphinx import PocketSphinxTranscriber
from yinzi.media import testing

from helpers import instrumental

Audio = npt.NDArray[np.float32]
RATE = PocketSphinxTranscriber.sample_rate
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "speech" / "call_me_back.wav"
TEXT = FIXTURE.with_suffix(".txt").read_text(encoding="utf-8")
MAX_WER = 0.25  # measured: 0.0; the engine decodes a wrong or silent signal far above this


def blocks(audio: Audio, seconds: float) -> Iterator[Audio]:
    size = max(1, round(seconds * RATE))
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


def transcribe(audio: Audio | Iterable[Audio], block_seconds: float = 1.0) -> list[Segment]:
    stream = blocks(audio, block_seconds) if isinstance(audio, np.ndarray) else audio
    return list(PocketSphinxTranscriber().transcribe(stream, language="en").segments)


def text_of(segments: list[Segment]) -> str:
    return " ".join(segment.text for segment in segments)


@pytest.fixture(scope="module")
def speech() -> Audio:
    return media.read_all(FIXTURE, sample_rate=RATE, channels=1)


@pytest.fixture(scope="module")
def segments(speech: Audio) -> list[Segment]:
    return transcribe(speech)


def mp4_with(audio: Audio, path: Path) -> Path:
    """An MP4 holding ``audio`` as AAC (a stereo copy at 44.1 kHz: media must resample it)."""
    stereo = np.repeat(media.read_all(FIXTURE, sample_rate=44100, channels=1), 2, axis=0)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo), format="fltp")
        frame.sample_rate, frame.pts = 44100, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_it_is_a_registered_transcriber() -> None:
    engine: Transcriber = registry.load("transcription.pocketsphinx", "transcription")
    assert isinstance(engine, PocketSphinxTranscriber)
    assert (engine.name, engine.sample_rate, engine.languages) == (
        "transcription.pocketsphinx",
        16000,
        ("en",),
    )


def test_it_transcribes_the_fixture(segments: list[Segment]) -> None:
    assert wer(TEXT, text_of(segments)) <= MAX_WER
    assert all(segment.text == segment.text.lower() for segment in segments)


def test_times_are_ordered_and_within_the_input(speech: Audio, segments: list[Segment]) -> None:
    duration = speech.shape[1] / RATE
    previous = 0.0
    for segment in segments:
        assert 0 <= previous <= segment.start < segment.end <= duration
        assert segment.words and segment.text == " ".join(w.text for w in segment.words)
        for word in segment.words:
            assert segment.start <= word.start < word.end <= segment.end
            assert word.start >= previous
            previous = word.end


def test_block_size_does_not_change_the_result(speech: Audio, segments: list[Segment]) -> None:
    assert transcribe(speech, block_seconds=1000) == segments
    assert transcribe(speech, block_seconds=0.0137) == segments


def test_the_same_speech_inside_an_mp4(tmp_path: Path, speech: Audio) -> None:
    video = mp4_with(speech, tmp_path / "speech.mp4")
    decoded = media.read_blocks(video, sample_rate=RATE, channels=1, block_seconds=1.0)
    assert wer(TEXT, text_of(transcribe(decoded))) <= MAX_WER


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(np.zeros((1, 5 * RATE), np.float32), id="silence"),
        pytest.param(testing.sine(5.0, sample_rate=RATE, channels=1), id="tone"),
        pytest.param(testing.song_stems(5.0, RATE)[1][:1], id="chords-and-clicks"),
        pytest.param(np.zeros((1, 0), np.float32), id="empty"),
        pytest.param(np.full((1, 7), 0.5, np.float32), id="seven-samples"),
    ],
)
def test_no_speech_gives_no_segments(audio: Audio) -> None:
    assert transcribe(audio) == []


def test_clipped_speech_still_transcribes(speech: Audio) -> None:
    clipped = np.clip(speech * 3, -1, 1)  # 2 % of the samples flattened at full scale
    assert wer(TEXT, text_of(transcribe(clipped))) <= MAX_WER  # measured: 0.05


def test_an_unsupported_language_is_refused_before_reading_audio() -> None:
    def never() -> Iterator[Audio]:
        raise AssertionError("audio was read")
        yield  # pragma: no cover

    with pytest.raises(UnsupportedLanguage, match=r"'zh'.*it knows: en$"):
        PocketSphinxTranscriber().transcribe(never(), language="zh")


@pytest.mark.parametrize("language", [None, "auto", "en"])
def test_english_is_the_language(language: str | None) -> None:
    result = PocketSphinxTranscriber().transcribe(iter([]), language=language)
    assert result.language == "en"
    assert list(result.segments) == []


def test_segments_stream_before_the_input_ends(speech: Audio) -> None:
    gap = np.zeros((1, RATE), np.float32)
    consumed = 0
    total = 6

    def lazily() -> Iterator[Audio]:
        nonlocal consumed
        for _ in range(total):
            consumed += 1
            yield np.concatenate([speech, gap], axis=1)

    seen_at = []
    for segment in PocketSphinxTranscriber().transcribe(lazily()).segments:
        seen_at.append(consumed)
        assert segment.start >= 0
    assert len(seen_at) >= total  # every repetition is transcribed
    assert seen_at[0] <= 2  # the first segment came out long before the input was used up


def test_progress_reports_the_seconds_read(speech: Audio) -> None:
    reported: list[float] = []
    engine = PocketSphinxTranscriber()
    list(engine.transcribe(blocks(speech, 1.0), progress=reported.append).segments)
    assert reported == sorted(reported)
    assert reported[-1] == pytest.approx(speech.shape[1] / RATE)


def test_speech_without_pauses_is_cut_into_bounded_utterances() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(60 * RATE) / RATE
    babble = rng.normal(0, 0.1, t.size) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    babble[:RATE] = 0  # one second of silence, then a minute without a pause
    splitter = UtteranceSplitter(RATE, VadSettings(max_seconds=10))
    found, held = [], 0
    for start in range(0, babble.size, RATE // 4):
        found += list(splitter.feed(babble[start : start + RATE // 4].astype(np.float32)))
        held = max(held, sum(part.size for part in splitter._audio))
    found += list(splitter.finish())
    assert held <= 12 * RATE  # one utterance plus the look-ahead, not the whole minute
    assert all(u.samples.size <= 10 * RATE for u in found)
    ends = [u.start + u.samples.size for u in found]
    assert [u.start for u in found[1:]] == ends[:-1]  # cut end to end: nothing lost or repeated
    assert found[0].start == round(0.8 * RATE) and ends[-1] == babble.size


@pytest.mark.parametrize("seed", [0, 1])
def test_a_band_without_a_singer_gives_no_words(seed: int) -> None:
    """Music passes the energy detector; the speech check keeps it from the decoder."""
    assert transcribe(instrumental(12.0, seed=seed)[None]) == []
