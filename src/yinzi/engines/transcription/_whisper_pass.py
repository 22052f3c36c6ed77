"""One window of audio through faster-whisper: voice activity, language, then decoding.

The steps are faster-whisper's own ``WhisperModel.transcribe``, taken apart so that each is done
once:

1. Silero voice-activity detection (bundled with faster-whisper, run offline on one thread)
   finds the speech; the rest is cut out before the model hears it. A window without speech
   stops here: no language to detect, nothing to decode, nothing to invent.
2. When the language is not given, it is detected on the first 30 seconds of *speech* (not of
   the window, which may open with music). faster-whisper's ``transcribe`` runs the encoder on
   that stretch for detection, then again on the same 30 seconds (padded differently when
   shorter) to decode them. The encoder is most of the cost of a short input, so detection cost
   about 1.5 times a run with the language given (1.2 to 1.7 per file on the real development
   set, one core). Here detection runs on exactly the features the decoder encodes first (the
   first 30 seconds, zero-padded as the decoder pads them); its encoder output is held in an
   :class:`EncoderCache` and handed to the decoder when it asks for those features, so
   detection adds one decoder step (1.03 times, median).
3. The speech is decoded with word timestamps and mapped back to window time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


@dataclass
class Decoded:
    """What one window gave: its language, and the lazy segments in window seconds."""

    language: str
    probability: float | None
    """The detector's probability for ``language``; None when the language was given."""
    segments: Iterable[Any]
    has_speech: bool


class EncoderCache:
    """Stands in for ``WhisperModel.encode``: an encoding kept by :meth:`keep` is returned,
    once, for a call with the same features; any other call is encoded as usual."""

    def __init__(self, encode: Any) -> None:
        self.encode = encode
        self._held: tuple[npt.NDArray[Any], Any] | None = None

    def __call__(self, features: npt.NDArray[Any]) -> Any:
        held, self._held = self._held, None
        if held is not None and held[0].shape == features.shape:
            if np.array_equal(held[0], features):
                return held[1]
        return self.encode(features)

    def keep(self, features: npt.NDArray[Any], encoded: Any) -> None:
        self._held = (features, encoded)

    @classmethod
    def install(cls, model: Any) -> EncoderCache:
        """Put a cache in front of ``model``'s encoder (an attribute shadowing the method)."""
        cache = cls(model.encode)
        model.encode = cache
        return cache


def speech_of(audio: Samples, sample_rate: int, vad: bool) -> list[dict[str, int]]:
    """The stretches of ``audio`` with speech, as faster-whisper's sample ranges."""
    if not vad:
        return [{"start": 0, "end": len(audio)}]
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks: list[dict[str, int]] = get_speech_timestamps(
        audio, VadOptions(), sampling_rate=sample_rate
    )
    return chunks


def detect(model: Any, speech: Samples, languages: Collection[str]) -> tuple[str, float]:
    """The most likely of ``languages`` in the first 30 seconds of ``speech``, and its
    probability; the encoding is kept for the decoder of the same features."""
    from faster_whisper.audio import pad_or_trim

    extractor = model.feature_extractor
    features = extractor(speech)
    first = pad_or_trim(features[:, : min(extractor.nb_max_frames, features.shape[-1] - 1)])
    cache: EncoderCache = model.encode
    encoded = cache.encode(first)
    cache.keep(first, encoded)
    ranked = model.model.detect_language(encoded)[0]
    for token, probability in ranked:
        code = str(token)[2:-2]
        if code in languages:
            return code, float(probability)
    code, probability = str(ranked[0][0])[2:-2], ranked[0][1]
    return code, float(probability)


def decode(
    model: Any,
    audio: Samples,
    language: str | None,
    *,
    languages: Collection[str],
    sample_rate: int,
    vad: bool,
    options: dict[str, Any],
) -> Decoded:
    """Decode one window; ``language`` None detects it (on a multilingual model)."""
    chunks = speech_of(audio, sample_rate, vad)
    if not chunks:
        return Decoded(language or "", None, (), has_speech=False)
    speech = np.concatenate([audio[c["start"] : c["end"]] for c in chunks])
    probability: float | None = None
    if language is None:
        if model.model.is_multilingual:
            language, probability = detect(model, speech, languages)
        else:
            language = "en"
    segments, _ = model.transcribe(speech, language=language, vad_filter=False, **options)
    if vad:
        from faster_whisper.transcribe import restore_speech_timestamps

        segments = restore_speech_timestamps(segments, chunks, sample_rate)
    return Decoded(language, probability, segments, has_speech=True)
