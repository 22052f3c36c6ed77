"""``transcription.pocketsphinx``: offline English speech recognition with CMU PocketSphinx.

Method:

1. The 16 kHz mono input is cut into utterances at its pauses by an energy voice-activity
   detector with a minimum-statistics noise floor (:mod:`._vad`). Sounds as steady as their own
   background (a held tone, hum) never rise above that floor, so they yield no utterance.
   Utterances longer than ``max_seconds`` are cut at their quietest 10 ms, so memory stays
   bounded (about one utterance) however long the input is, and segments stream out as
   utterances end. Energy alone cannot tell a voice from music, so each utterance must also
   contain speech for the Silero voice-activity model (bundled with faster-whisper, run on one
   thread): music, drums and noise never reach the decoder, which would otherwise find words in
   them (17 on the three 8-second instrumentals of the real development set; 0 with the check,
   the WER of the speech unchanged).
2. Each utterance is converted to 16-bit PCM (the level the model was trained on: full scale =
   32767) and decoded on its own with the wheel's US-English models (acoustic model, CMUdict,
   generic trigram language model), running the three standard passes: lexicon-tree search,
   flat-lexicon search over its word lattice, best path through the lattice. Each utterance
   starts a sentence for the language model. Cepstral mean normalisation is per utterance
   ("batch", the model's own setting): the whole utterance is known before decoding, so the
   mean is exact rather than estimated on the fly, and no warm-up is needed.
3. Spectral noise subtraction (``-remove_noise``, on in the model's feat.params) is decided once
   per recording from the level of the first utterance's pauses: on when the background is
   audible (above -60 dBFS), off when the pauses are near digital silence, where there is no
   noise to estimate and the subtraction only distorts the spectrum (on the dev set: WER 0.25
   with it, 0.23 without).
4. Words come from the decoder's segmentation (10 ms frames, offset by the utterance's start);
   silence, noise and sentence markers are dropped and alternate-pronunciation suffixes (``(2)``)
   removed. A segment spans its first to last word; its text is the words joined by spaces,
   lower case, as the model spells them. An utterance yielding no words yields no segment.

Beams and weights are the model's defaults: wider beams, more Gaussians (``-topn``), other
language-model weights and insertion penalties were measured on the dev set and did not help
beyond noise, while costing speed. PocketSphinx's word posteriors are not computed in this
configuration, so words carry no confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from yinzi.engines.transcription._vad import Samples, Utterance, VadSettings, utterances
from yinzi.engines.transcription.base import (
    Block,
    Progress,
    Segment,
    Transcription,
    UnsupportedLanguage,
    Word,
)

_FRAMES_PER_SECOND = 100  # PocketSphinx's feature frame rate
_ALTERNATE = re.compile(r"\(\d+\)$")
_NOISE_FLOOR_DB = -60.0  # below this the background is (near) digital silence


@dataclass(frozen=True, slots=True)
class DecoderSettings:
    """PocketSphinx parameters; the defaults are the model's own, measured on the dev set."""

    lw: float = 6.5
    beam: float = 1e-48
    wbeam: float = 7e-29
    pbeam: float = 1e-48
    maxhmmpf: int = 30000
    fwdflat: bool = True
    bestpath: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def as_config(self) -> dict[str, Any]:
        return {
            "lw": self.lw,
            "beam": self.beam,
            "wbeam": self.wbeam,
            "pbeam": self.pbeam,
            "maxhmmpf": self.maxhmmpf,
            "fwdflat": self.fwdflat,
            "bestpath": self.bestpath,
            **self.extra,
        }


class PocketSphinxTranscriber:
    name = "transcription.pocketsphinx"
    sample_rate = 16000
    languages = ("en",)

    def __init__(
        self,
        *,
        decoder: DecoderSettings | None = None,
        vad: VadSettings | None = None,
        remove_noise: bool | None = None,
        speech_check: bool = True,
    ) -> None:
        """``remove_noise`` None decides per recording from its noise floor (see the module);
        ``speech_check`` lets only utterances with a voice in them reach the decoder."""
        self.decoder_settings = decoder or DecoderSettings()
        self.vad_settings = vad or VadSettings()
        self.remove_noise = remove_noise
        self.speech_check = speech_check

    def transcribe(
        self,
        blocks: Iterable[Block],
        *,
        language: str | None = None,
        progress: Progress | None = None,
    ) -> Transcription:
        if language not in (None, "auto", *self.languages):
            raise UnsupportedLanguage.for_engine(self.name, str(language), self.languages)
        return Transcription(language="en", segments=self._segments(blocks, progress))

    # -- internals -----------------------------------------------------------------------------

    def _segments(self, blocks: Iterable[Block], progress: Progress | None) -> Iterator[Segment]:
        decoder = _UtteranceDecoder(self.decoder_settings, self.remove_noise)
        for utterance in utterances(
            _mono(blocks, self.sample_rate, progress), self.sample_rate, self.vad_settings
        ):
            if self.speech_check and not _voiced(utterance.samples, self.sample_rate):
                continue
            segment = decoder.decode(utterance, self.sample_rate)
            if segment is not None:
                yield segment


class _UtteranceDecoder:
    """One PocketSphinx decoder, created on the first utterance (loading the model takes ~0.3 s)."""

    def __init__(self, settings: DecoderSettings, remove_noise: bool | None) -> None:
        self.settings = settings
        self.remove_noise = remove_noise
        self._decoder: Any = None

    def decode(self, utterance: Utterance, sample_rate: int) -> Segment | None:
        decoder = self._ready(utterance.samples)
        decoder.start_utt()
        decoder.process_raw(_pcm16(utterance.samples), full_utt=True)
        decoder.end_utt()
        offset = utterance.start / sample_rate
        words = tuple(_words(decoder, offset))
        if not words:
            return None
        text = " ".join(word.text for word in words)
        return Segment(start=words[0].start, end=words[-1].end, text=text, words=words)

    def _ready(self, samples: Samples) -> Any:
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(loglevel="ERROR", **self.settings.as_config())
            remove = self.remove_noise
            if remove is None:
                remove = _noise_floor_db(samples) > _NOISE_FLOOR_DB
            # feat.params in the model folder overrides constructor arguments: set it after.
            self._decoder.config["remove_noise"] = remove
            self._decoder.reinit_feat()
        return self._decoder


def _voiced(samples: Samples, sample_rate: int) -> bool:
    """Whether the Silero voice-activity model (bundled with faster-whisper) hears speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return bool(get_speech_timestamps(samples, VadOptions(), sampling_rate=sample_rate))


def _words(decoder: Any, offset: float) -> Iterator[Word]:
    for seg in decoder.seg():
        text = _ALTERNATE.sub("", seg.word)
        if not text or text[0] in "<[+" or text.startswith("++"):
            continue  # <s>, </s>, <sil>, [NOISE], ++BREATH++
        start = offset + seg.start_frame / _FRAMES_PER_SECOND
        end = offset + (seg.end_frame + 1) / _FRAMES_PER_SECOND
        yield Word(text=text.lower(), start=start, end=end)


def _pcm16(samples: Samples) -> bytes:
    scaled = np.clip(samples, -1.0, 1.0) * 32767.0
    pcm: bytes = np.rint(scaled).astype("<i2").tobytes()
    return pcm


def _noise_floor_db(samples: Samples, frame: int = 160) -> float:
    """The 5th percentile of 10 ms frame energies: the level of the pauses."""
    whole = samples[: samples.size // frame * frame].reshape(-1, frame)
    if not whole.size:
        return -120.0
    power = np.square(whole, dtype=np.float64).mean(axis=1)
    return float(np.percentile(10 * np.log10(power + 1e-12), 5))


def _mono(
    blocks: Iterable[Block], sample_rate: int, progress: Progress | None
) -> Iterator[Samples]:
    seconds = 0.0
    for block in blocks:
        samples = np.asarray(block, dtype=np.float32)
        samples = samples.mean(axis=0) if samples.ndim == 2 else samples.reshape(-1)
        seconds += samples.size / sample_rate
        yield samples if np.isfinite(samples).all() else np.nan_to_num(samples)
        if progress is not None:
            progress(seconds)
