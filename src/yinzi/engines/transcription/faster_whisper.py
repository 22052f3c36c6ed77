"""``transcription.faster_whisper``: Whisper through CTranslate2, accurate and multilingual.

The model (a name such as ``small`` or ``large-v3``, or a local CTranslate2 folder) is loaded
on the first ``transcribe`` and kept on the instance; constructing the engine loads no weights
(it reads at most the model folder's vocabulary, to know whether the model is English-only).
``faster_whisper`` is imported only by the engine itself, when it loads the model.

Languages are Whisper's ISO 639-1 codes; Chinese also takes a script (``zh-TW``, ``zh-Hant``; see
``_chinese``), and ``zh`` alone is written in Simplified characters. Each window goes through
``_whisper_pass`` (voice activity, language, decoding) and each segment through
``_whisper_guards``, which drop text the audio cannot account for.

Long inputs go through in windows of ``window_seconds`` (two minutes by default), each cut at
a quiet moment. faster-whisper needs a window as one array, and its working memory grows with
the window: the STFT behind the mel spectrogram peaks at about 1 MB per second of audio
(measured: 123 MB for 120 s, 308 MB for 300 s), on top of the model. Two minutes keeps that
near 125 MB whatever the recording's length, while costing little accuracy: Whisper decodes in
30-second chunks anyway, a cut falls in the quietest 100 ms of the window's last 30 s, each
window is prompted with the end of the previous one's text, and the language detected in the
first window with speech is kept for the rest. Only one window is held at a time (detection
included, however long the input goes without speech), and the memory freed by one window is
handed back to the system before the next (``_heap``), so the peak does not creep up with the
number of windows either.

Invariants of the segments yielded: start times never decrease, a segment starts no earlier
than the previous one ends, every time lies within its window (so within the input), and every
word lies within its segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from yinzi.engines import _heap, availability
from yinzi.engines.transcription import _chinese, _whisper_guards, _whisper_pass
from yinzi.engines.transcription._whisper_models import (
    Placement,
    download,
    english_only,
    locate,
    resolve_placement,
)
from yinzi.engines.transcription._whisper_windows import Window, windows
from yinzi.engines.transcription.base import (
    Block,
    Progress,
    Segment,
    Transcription,
    UnsupportedLanguage,
    Word,
)
from yinzi.errors import ConfigurationError, EngineError

__all__ = ["DEFAULT_TEMPERATURES", "FasterWhisperTranscriber", "Placement", "pull"]

DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Whisper's fallback: a decode that looks wrong is retried at the next temperature."""
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})
"""Languages written without spaces between words (faster-whisper's list): each piece Whisper
times is a word of its own."""
PROMPT_CHARACTERS = 200
"""How much of a window's text prompts the next window."""


def pull(model: str, dest: Path | None = None, *, download_root: str | None = None) -> Path:
    """Download the Whisper model ``model`` (needs internet) and return its folder.

    Without ``dest`` it goes to the Hugging Face cache (or ``download_root``), where the engine
    finds it by name; with ``dest`` it is written there as plain files, usable as a folder path.
    """
    return download(model, dest, download_root)


class FasterWhisperTranscriber:
    """Transcribe with a Whisper model run by CTranslate2 (faster-whisper)."""

    name = "transcription.faster_whisper"
    sample_rate = 16000
    languages: tuple[str, ...]

    def __init__(
        self,
        *,
        model: str = "base",
        device: str = "auto",
        compute_type: str = "auto",
        download_root: str | None = None,
        models_dir: str | None = None,
        cpu_threads: int = 0,
        local_files_only: bool = False,
        beam_size: int = 5,
        vad_filter: bool = True,
        temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
        window_seconds: float = 120.0,
    ) -> None:
        if window_seconds < 30:
            raise ConfigurationError("window_seconds must be at least 30 (one Whisper chunk)")
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.download_root = download_root
        self.models_dir = models_dir
        self.cpu_threads = cpu_threads
        self.local_files_only = local_files_only
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.temperatures = temperatures
        self.window_seconds = window_seconds
        self.languages = ("en",) if english_only(model) else _whisper_languages()
        self._loaded: Any = None

    @classmethod
    def availability(
        cls,
        *,
        model: str = "base",
        download_root: str | None = None,
        models_dir: str | None = None,
        **_: object,
    ) -> str | None:
        """Why ``model`` cannot be used here without a download, or None when it is on disk."""
        return availability.faster_whisper(
            model=model, download_root=download_root, models_dir=models_dir
        )

    def placement(self) -> Placement:
        """Where the model runs, with ``auto`` resolved for this machine."""
        return resolve_placement(self.device, self.compute_type)

    def transcribe(
        self,
        blocks: Iterable[Block],
        *,
        language: str | None = None,
        progress: Progress | None = None,
    ) -> Transcription:
        self._check_language(language)
        model = self._load()
        asked = self._check_language(language)  # the loaded model has the last word
        run = _Run(self, model, progress)
        stream = windows(blocks, self.sample_rate, self.window_seconds)
        spoken = _whisper_language(asked)
        detected, probability, first = run.start(stream, spoken)
        tag = asked if asked is not None else detected
        run.script = _chinese.converter(tag) if _chinese.canonical(tag) else None
        return Transcription(
            language=tag,
            segments=run.segments(first, stream, detected),
            language_probability=probability,
        )

    def _check_language(self, language: str | None) -> str | None:
        """The language asked for, canonical (``zh-tw`` is ``zh-TW``); None to detect it."""
        if language is None or language == "auto":
            return None
        chinese = _chinese.canonical(language)
        if chinese is not None and "zh" in self.languages:
            return chinese
        if language not in self.languages:
            known = (*self.languages, *_chinese.TAGS) if "zh" in self.languages else self.languages
            raise UnsupportedLanguage.for_engine(self.name, language, known)
        return language

    def _load(self) -> Any:
        if self._loaded is not None:
            return self._loaded
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ConfigurationError(
                f"the {self.name} engine needs faster-whisper: pip install faster-whisper"
            ) from exc
        folder = locate(
            self.model,
            download_root=self.download_root,
            local_files_only=self.local_files_only,
            models_dir=self.models_dir,
        )
        where = self.placement()
        try:
            loaded = WhisperModel(
                folder,
                device=where.device,
                device_index=where.index,
                compute_type=where.compute_type,
                cpu_threads=self.cpu_threads,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ConfigurationError(
                f"cannot load the Whisper model {self.model!r} from {folder} on {where.device} "
                f"({where.compute_type}): {exc}"
            ) from exc
        _whisper_pass.EncoderCache.install(loaded)
        self.languages = _known_languages(loaded)
        self._loaded = loaded
        return loaded


@dataclass
class _Pass:
    """One window handed to faster-whisper: its lazy segments and what it found."""

    window: Window
    decoded: _whisper_pass.Decoded


class _Run:
    """One ``transcribe`` call: windows in, placed segments out."""

    def __init__(self, engine: FasterWhisperTranscriber, model: Any, progress: Progress | None):
        self.engine = engine
        self.model = model
        self.progress = progress
        self.prompt = ""
        self.script: Callable[[str], str] | None = None
        """Writes Chinese text in the script asked for; None for other languages."""

    def start(
        self, stream: Iterator[Window], language: str | None
    ) -> tuple[str, float | None, list[_Pass]]:
        """Decide the language, reading windows until one has speech when detecting.

        A window without speech is done with once it is read (its progress reported, its audio
        let go): an hour of music before the first word is held one window at a time."""
        if language is not None:
            return language, None, []
        for window in stream:
            current = self.decode(window, None)
            if current.decoded.has_speech or window.last:
                found = current.decoded
                return found.language or _fallback(self.engine), found.probability, [current]
            self.report(window)
        raise AssertionError("windows() always yields a last window")  # pragma: no cover

    def segments(
        self, first: list[_Pass], stream: Iterator[Window], language: str
    ) -> Iterator[Segment]:
        floor = 0.0
        spaced = language not in UNSPACED_LANGUAGES
        while True:
            current = first.pop(0) if first else None  # popped: done with once read
            if current is None:
                window = next(stream, None)
                if window is None:
                    return
                current = self.decode(window, language)
            texts: list[str] = []
            for raw in self.guarded(current.decoded.segments):
                segment = _place(raw, current.window, self.engine.sample_rate, floor, spaced)
                if segment is None or _invented(raw, segment):
                    continue
                segment = self.written(segment)
                floor = segment.end
                texts.append(segment.text)
                if self.progress is not None:
                    self.progress(segment.end)
                yield segment
            self.prompt = " ".join(texts)[-PROMPT_CHARACTERS:] or self.prompt
            self.report(current.window)

    def report(self, window: Window) -> None:
        """Progress: the input is read up to the end of ``window``."""
        if self.progress is not None:
            self.progress(window.start + window.duration(self.engine.sample_rate))

    def decode(self, window: Window, language: str | None) -> _Pass:
        """One window through Whisper; the previous window's memory is handed back first, so
        the resident set does not creep up window after window (see ``_heap``)."""
        engine = self.engine
        _heap.release_free_memory()
        if not len(window.audio):
            return _Pass(window, _whisper_pass.Decoded(language or "", None, (), False))
        options: dict[str, Any] = {
            "beam_size": engine.beam_size,
            "temperature": list(engine.temperatures),
            "word_timestamps": True,
            "initial_prompt": self.prompt or None,
        }
        try:
            decoded = _whisper_pass.decode(
                self.model,
                window.audio,
                language,
                languages=engine.languages,
                sample_rate=engine.sample_rate,
                vad=engine.vad_filter,
                options=options,
            )
        except RuntimeError as exc:
            raise EngineError(f"Whisper failed on the audio: {exc}") from exc
        return _Pass(window, decoded)

    def written(self, segment: Segment) -> Segment:
        """``segment`` in the script asked for (Chinese only)."""
        script = self.script
        if script is None:
            return segment
        words = tuple(replace(word, text=script(word.text)) for word in segment.words)
        return replace(segment, text=script(segment.text), words=words)

    @staticmethod
    def guarded(segments: Iterable[Any]) -> Iterator[Any]:
        """faster-whisper decodes lazily: its errors surface while iterating."""
        try:
            yield from segments
        except RuntimeError as exc:
            raise EngineError(f"Whisper failed on the audio: {exc}") from exc


def _invented(raw: Any, segment: Segment) -> bool:
    return _whisper_guards.invented(
        segment.text,
        segment.words,
        no_speech_prob=float(raw.no_speech_prob),
        avg_logprob=float(raw.avg_logprob),
    )


def _whisper_language(language: str | None) -> str | None:
    """The language Whisper is told: Chinese in any script is ``zh``."""
    if language is not None and _chinese.canonical(language) is not None:
        return "zh"
    return language


def _place(
    raw: Any, window: Window, sample_rate: int, floor: float, spaced: bool = True
) -> Segment | None:
    """A faster-whisper segment as a base ``Segment`` in input time, kept inside its window.

    In a ``spaced`` language a word is a run of text between spaces: a piece Whisper times
    apart without a space before it (``-cream`` after ``sun``) is joined to the word before."""
    text = str(raw.text).strip()
    low = max(window.start, floor)
    high = max(low, window.start + window.duration(sample_rate))
    if not text or window.start + float(raw.start) >= high:
        return None  # nothing to say, or said after the audio ended: a hallucination
    start = _clamp(window.start + float(raw.start), low, high)
    end = _clamp(window.start + float(raw.end), start, high)
    words: list[Word] = []
    cursor = start
    for raw_word in raw.words or ():
        word_text = str(raw_word.word).strip()
        if not word_text:
            continue
        word_start = _clamp(window.start + float(raw_word.start), cursor, end)
        word_end = _clamp(window.start + float(raw_word.end), word_start, end)
        probability = float(raw_word.probability)
        if spaced and words and not str(raw_word.word)[:1].isspace():
            before = words.pop()
            word_text, word_start = before.text + word_text, before.start
            probability = min(probability, before.confidence or probability)
        words.append(Word(word_text, word_start, word_end, probability))
        cursor = word_end
    return Segment(start=start, end=end, text=text, words=tuple(words))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _fallback(engine: FasterWhisperTranscriber) -> str:
    """The language reported for an input with no audio at all."""
    return "en" if "en" in engine.languages else engine.languages[0]


def _known_languages(loaded: Any) -> tuple[str, ...]:
    """The loaded model's languages, less any its tokenizer lacks (``yue`` before large-v3)."""
    codes = tuple(str(code) for code in loaded.supported_languages)
    tokenizer = getattr(loaded, "hf_tokenizer", None)
    if tokenizer is None:
        return codes
    known = tuple(code for code in codes if tokenizer.token_to_id(f"<|{code}|>") is not None)
    return known or codes


def _whisper_languages() -> tuple[str, ...]:
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES
    except ImportError:
        return ("en",)  # transcribe() will explain the missing extra
    return tuple(str(code) for code in _LANGUAGE_CODES)
