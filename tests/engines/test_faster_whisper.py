"""Tests for ``transcription.faster_whisper``, offline, against a tiny random-weight Whisper.

The model built by ``yinzi.engines.transcription.testing`` loads exactly like a real converted
checkpoint but says nonsense, so these tests check loading, languages, errors, windowing and the
shape of the result; never the words.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest

faster_whisper = pytest.importorskip("faster_whisper")

from yinzi.engines import _heap  # noqa: E402
from yinzi.engines.transcription import _whisper_pass, _whisper_windows  # noqa: E402
from yinzi.engines.transcription.base import (  # noqa: E402
    Segment,
    Transcriber,
    UnsupportedLanguage,
)
from yinzi.engines.transcription.faster_whisper import (  # noqa: E402
    FasterWhisperTranscriber,
    Placement,
    pull,
)
from yinzi.engines.transcription.testing import build_tiny_whisper  # noqa: E402
from yinzi.errors import ConfigurationError  # noqa: E402

Audio = npt.NDArray[np.float32]
RATE = FasterWhisperTranscriber.sample_rate


def tiny(folder: Path, *, window_seconds: float = 120.0) -> FasterWhisperTranscriber:
    """The engine on a tiny model, greedy and without Whisper's temperature fallback (random
    weights would otherwise retry every 30-second chunk six times)."""
    return FasterWhisperTranscriber(
        model=str(folder), beam_size=1, temperatures=(0.0,), window_seconds=window_seconds
    )


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny")


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny.en", multilingual=False)


def tone(seconds: float, *, seed: int = 0) -> Audio:
    """A vowel-ish harmonic tone with a little noise."""
    t = np.arange(round(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.2 * voice + 0.02 * noise).astype(np.float32)


def blocks(audio: Audio, size: int = 4096) -> Iterator[Audio]:
    for start in range(0, audio.size, size):
        yield audio[None, start : start + size]


def never_read() -> Iterator[Audio]:
    raise AssertionError("the audio was read")
    yield np.zeros((1, 1), np.float32)  # pragma: no cover


def check_well_formed(segments: Iterable[Segment], duration: float) -> list[Segment]:
    """Times in order and inside the input, words inside their segment, text stripped."""
    result = list(segments)
    previous_end = 0.0
    for segment in result:
        assert previous_end <= segment.start <= segment.end <= duration + 1e-6
        assert segment.text == segment.text.strip() != ""
        word_end = segment.start
        for word in segment.words:
            assert word_end <= word.start <= word.end <= segment.end
            assert word.text == word.text.strip() != ""
            assert word.confidence is None or 0.0 <= word.confidence <= 1.0
            word_end = word.end
        previous_end = segment.end
    return result


# -- loading and transcribing ------------------------------------------------------------------


def test_transcribes_a_tone_from_a_local_folder(multilingual: Path) -> None:
    engine: Transcriber = tiny(multilingual)
    result = engine.transcribe(blocks(tone(4.0)), language="en")
    assert result.language == "en"
    check_well_formed(result.segments, 4.0)


def test_the_model_is_loaded_once_on_first_use(multilingual: Path) -> None:
    engine = tiny(multilingual)
    assert engine._loaded is None  # constructing reads no weights
    list(engine.transcribe(blocks(tone(1.0)), language="en").segments)
    loaded = engine._loaded
    list(engine.transcribe(blocks(tone(1.0)), language="en").segments)
    assert loaded is not None and engine._loaded is loaded


@pytest.mark.parametrize("language", ["en", "zh", "ja", "de"])
def test_a_multilingual_model_takes_the_language_asked_for(
    multilingual: Path, language: str
) -> None:
    engine = tiny(multilingual)
    assert len(engine.languages) >= 99 and {"en", "zh", "yue"} <= set(engine.languages)
    result = engine.transcribe(blocks(tone(3.0)), language=language)
    assert result.language == language
    check_well_formed(result.segments, 3.0)


@pytest.mark.parametrize("language", [None, "auto"])
def test_language_detection(multilingual: Path, language: str | None) -> None:
    engine = tiny(multilingual)
    result = engine.transcribe(blocks(tone(3.0)), language=language)
    assert result.language in engine.languages
    check_well_formed(result.segments, 3.0)


def test_an_english_only_model_refuses_chinese_before_reading_audio(english: Path) -> None:
    engine = tiny(english)
    assert engine.languages == ("en",)
    with pytest.raises(UnsupportedLanguage, match=r"'zh'.*it knows: en$"):
        engine.transcribe(never_read(), language="zh")
    result = engine.transcribe(blocks(tone(2.0)), language=None)
    assert result.language == "en"
    check_well_formed(result.segments, 2.0)


def test_an_unknown_language_is_refused_before_reading_audio(multilingual: Path) -> None:
    engine = tiny(multilingual)
    with pytest.raises(UnsupportedLanguage, match="'xx'"):
        engine.transcribe(never_read(), language="xx")


def test_english_names_are_english_only_without_loading() -> None:
    assert FasterWhisperTranscriber(model="small.en").languages == ("en",)
    assert "zh" in FasterWhisperTranscriber(model="large-v3").languages


def test_silence_and_empty_input_give_no_segments(multilingual: Path) -> None:
    engine = tiny(multilingual)
    silent = engine.transcribe(blocks(np.zeros(3 * RATE, np.float32)), language=None)
    assert silent.language in engine.languages
    assert list(silent.segments) == []  # the VAD (shipped in the wheel, run offline) drops it
    empty = engine.transcribe(iter([]), language=None)
    assert empty.language == "en" and list(empty.segments) == []


# -- errors ------------------------------------------------------------------------------------


def test_a_model_missing_offline_says_how_to_get_it(tmp_path: Path) -> None:
    engine = FasterWhisperTranscriber(
        model="tiny", download_root=str(tmp_path), local_files_only=True
    )
    began = time.monotonic()
    with pytest.raises(ConfigurationError, match="yinzi models install whisper-tiny"):
        engine.transcribe(never_read(), language="en")
    assert time.monotonic() - began < 5


def test_a_missing_folder_and_an_unknown_name_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        FasterWhisperTranscriber(model=str(tmp_path / "nope")).transcribe(never_read())
    unknown = FasterWhisperTranscriber(model="enormous-v9", local_files_only=True)
    with pytest.raises(ConfigurationError, match="unknown Whisper model 'enormous-v9'"):
        unknown.transcribe(never_read())
    with pytest.raises(ConfigurationError, match="unknown Whisper model 'enormous-v9'"):
        pull("enormous-v9", tmp_path / "dest")


def test_a_folder_that_is_not_a_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot load the Whisper model"):
        FasterWhisperTranscriber(model=str(tmp_path)).transcribe(never_read())


def test_auto_placement(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctranslate2

    engine = FasterWhisperTranscriber()
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    assert engine.placement() == Placement("cpu", 0, "int8")
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    assert engine.placement() == Placement("cuda", 0, "float16")
    assert FasterWhisperTranscriber(device="cuda:1").placement() == Placement("cuda", 1, "float16")
    explicit = FasterWhisperTranscriber(device="cpu", compute_type="float32")
    assert explicit.placement() == Placement("cpu", 0, "float32")
    with pytest.raises(ConfigurationError, match="unknown Whisper device"):
        FasterWhisperTranscriber(device="tpu").placement()


def test_auto_placement_here_is_cpu_int8_without_a_gpu() -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a GPU")
    assert FasterWhisperTranscriber().placement() == Placement("cpu", 0, "int8")


# -- windows -----------------------------------------------------------------------------------


def test_windows_cover_the_input_exactly_and_cut_where_it_is_quiet() -> None:
    audio = tone(100.0)
    audio[27 * RATE : 27 * RATE + RATE // 2] = 0.0  # a pause 27 s in
    got = list(_whisper_windows.windows(blocks(audio, 3000), RATE, 30.0))
    assert [w.last for w in got] == [False] * (len(got) - 1) + [True]
    np.testing.assert_array_equal(np.concatenate([w.audio for w in got]), audio)
    starts = np.cumsum([0] + [w.audio.size for w in got[:-1]]) / RATE
    assert [w.start for w in got] == pytest.approx(list(starts))
    assert 27.0 <= got[1].start <= 27.5
    assert all(w.audio.size <= 30 * RATE for w in got)


@dataclass
class FakeWord:
    start: float
    end: float
    word: str
    probability: float = 0.9


@dataclass
class FakeSegment:
    start: float
    end: float
    text: str
    words: list[FakeWord] = field(default_factory=list)
    compression_ratio: float = 1.2
    no_speech_prob: float = 0.01
    avg_logprob: float = -0.2


@dataclass
class FakeInfo:
    language: str


class FakeExtractor:
    """Features that differ wherever the audio does: one frame per 10 ms, its mean."""

    nb_max_frames = 3000

    def __call__(self, audio: Audio) -> npt.NDArray[np.float32]:
        frames = audio[: audio.size // 160 * 160].reshape(-1, 160).mean(axis=1)
        return np.stack([np.append(frames, 0.0)] * 2).astype(np.float32)


class FakeDetector:
    """CTranslate2's side: always hears French, surely."""

    is_multilingual = True

    @staticmethod
    def detect_language(encoded: object) -> list[list[tuple[str, float]]]:
        return [[("<|fr|>", 0.875), ("<|en|>", 0.125)]]


class FakeWhisperModel:
    """Says " hello world" 1 s into every window it is given, and once more after the window's
    end (a hallucination the engine must drop). Like faster-whisper, it encodes the first 30 s
    of features before decoding."""

    supported_languages = ("en", "fr")
    calls: ClassVar[list[dict[str, Any]]] = []
    encoded: ClassVar[list[int]] = []

    def __init__(self, folder: str, **options: Any) -> None:
        self.feature_extractor = FakeExtractor()
        self.model = FakeDetector()

    def encode(self, features: Audio) -> str:
        self.encoded.append(features.shape[-1])
        return "encoded"

    def transcribe(self, audio: Audio, **options: Any) -> tuple[list[FakeSegment], FakeInfo]:
        from faster_whisper.audio import pad_or_trim

        self.calls.append({"samples": audio.size, **options})
        features = self.feature_extractor(audio)
        self.encode(pad_or_trim(features[:, : min(3000, features.shape[-1] - 1)]))
        words = [FakeWord(1.0, 1.4, " hello"), FakeWord(1.4, 2.0, " world")]
        late = audio.size / RATE + 1
        segments = [FakeSegment(1.0, 2.0, " hello world", words), FakeSegment(late, late, " ok")]
        return segments, FakeInfo(options["language"])


def sound_is_speech(audio: Audio, sample_rate: int, vad: bool) -> list[dict[str, int]]:
    """A stand-in voice-activity detector: a window with any sound is all speech."""
    return [{"start": 0, "end": audio.size}] if np.any(audio) else []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeWhisperModel]:
    monkeypatch.setattr(faster_whisper, "WhisperModel", FakeWhisperModel)
    monkeypatch.setattr(_whisper_pass, "speech_of", sound_is_speech)
    FakeWhisperModel.calls = []
    FakeWhisperModel.encoded = []
    return FakeWhisperModel


def test_window_times_are_offset_into_the_input(
    multilingual: Path, fake: type[FakeWhisperModel]
) -> None:
    engine = FasterWhisperTranscriber(model=str(multilingual), window_seconds=30)
    seen: list[float] = []
    result = engine.transcribe(blocks(tone(80.0)), progress=seen.append)
    assert result.language == "fr"  # detected in the first window, then kept
    assert result.language_probability == 0.875
    segments = check_well_formed(result.segments, 80.0)
    assert len(fake.calls) == len(segments) == 3
    assert [c["language"] for c in fake.calls] == ["fr", "fr", "fr"]
    assert fake.calls[1]["initial_prompt"] == "hello world"
    offsets = np.cumsum([0] + [c["samples"] for c in fake.calls[:-1]]) / RATE
    assert [s.start for s in segments] == pytest.approx(list(offsets + 1.0))
    assert [w.start for w in segments[2].words] == pytest.approx([offsets[2] + 1, offsets[2] + 1.4])
    assert segments[0].words[1].text == "world"
    assert seen == sorted(seen) and seen[-1] == pytest.approx(80.0)


def test_detection_reuses_its_encoding_for_the_first_chunk(
    multilingual: Path, fake: type[FakeWhisperModel]
) -> None:
    engine = FasterWhisperTranscriber(model=str(multilingual))
    result = engine.transcribe(blocks(tone(12.0)))
    assert (result.language, len(list(result.segments))) == ("fr", 1)
    assert fake.encoded == [3000]  # one encoder pass: detection's, handed to the decoder
    list(engine.transcribe(blocks(tone(12.0, seed=1)), language="fr").segments)
    assert fake.encoded == [3000, 3000]


def test_detection_waits_for_the_first_window_with_speech(
    multilingual: Path, fake: type[FakeWhisperModel]
) -> None:
    audio = np.concatenate([np.zeros(65 * RATE, np.float32), tone(20.0)])
    engine = FasterWhisperTranscriber(model=str(multilingual), window_seconds=30)
    result = engine.transcribe(blocks(audio), language=None)
    assert result.language == "fr"
    assert [c["language"] for c in fake.calls] == ["fr"]  # two silent windows never decoded
    segments = check_well_formed(result.segments, 85.0)
    assert [c["language"] for c in fake.calls] == ["fr", "fr"]
    assert len(segments) == 2 and segments[-1].start == pytest.approx(
        85.0 - fake.calls[1]["samples"] / RATE + 1
    )


def test_detection_holds_one_window_at_a_time_however_long_the_silence(
    multilingual: Path, fake: type[FakeWhisperModel]
) -> None:
    audio = np.concatenate([np.zeros(600 * RATE, np.float32), tone(20.0)])
    window = 30 * RATE * 4  # bytes of one 30-s window
    engine = FasterWhisperTranscriber(model=str(multilingual), window_seconds=30)
    seen: list[float] = []
    tracemalloc.start()
    try:
        result = engine.transcribe(blocks(audio), language=None, progress=seen.append)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.language == "fr" and len(fake.calls) == 1
    assert peak < 5 * window  # the 20 silent windows before the speech would take 20
    assert seen and seen[-1] >= 570.0  # the silent windows are reported as read at once
    check_well_formed(result.segments, 620.0)


def test_each_window_is_decoded_once_the_last_ones_memory_is_handed_back(
    multilingual: Path, fake: type[FakeWhisperModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(_heap, "release_free_memory", lambda: events.append("release") or True)
    transcribe = FakeWhisperModel.transcribe

    def decode(self: FakeWhisperModel, audio: Audio, **options: Any) -> Any:
        events.append("decode")
        return transcribe(self, audio, **options)

    monkeypatch.setattr(FakeWhisperModel, "transcribe", decode)
    engine = FasterWhisperTranscriber(model=str(multilingual), window_seconds=30)
    list(engine.transcribe(blocks(tone(80.0)), language="fr").segments)
    assert events == ["release", "decode"] * 3


def test_a_long_input_through_the_tiny_model_stays_in_order(multilingual: Path) -> None:
    engine = tiny(multilingual, window_seconds=30)
    seen: list[float] = []
    result = engine.transcribe(blocks(tone(75.0)), language="en", progress=seen.append)
    check_well_formed(result.segments, 75.0)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(75.0)


@pytest.mark.parametrize(("tag", "canonical"), [("zh-tw", "zh-TW"), ("zh-Hans", "zh-Hans")])
def test_chinese_takes_a_script_tag(multilingual: Path, tag: str, canonical: str) -> None:
    result = tiny(multilingual).transcribe(blocks(tone(2.0)), language=tag)
    assert result.language == canonical and result.language_probability is None
    check_well_formed(result.segments, 2.0)


def test_an_english_only_model_refuses_chinese_in_any_script(english: Path) -> None:
    with pytest.raises(UnsupportedLanguage, match="'zh-TW'"):
        tiny(english).transcribe(never_read(), language="zh-TW")
