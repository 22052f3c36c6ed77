"""``separation.spectral``: weight-free vocals / accompaniment separation with numpy and scipy.

Method. The stereo mixture goes through a streaming STFT (2048-point square-root Hann, hop 512).
A soft vocal mask is built from four cues, each a value in [0, 1] per time-frequency bin:

- repetition: the magnitude that exceeds a REPET-SIM background model (the median of the most
  similar frames in the last ``history_seconds``) is foreground, i.e. ``1 - min(B, |X|) / |X|``;
- centre: lead vocals are panned to the middle, so ``exp(-|L - R|^2 / (|L|^2 + |R|^2) / w)``
  (1 for mono input);
- band: a 4th-order high-pass shape below ``low_cut_hz`` leaves bass and kick to the
  accompaniment; above ``high_cut_hz`` (little voice, mostly cymbals) everything is
  accompaniment, which also saves the background model a quarter of its work;
- pitch: the predominant f0 of the voice estimate (the mixture times the first three cues) is
  tracked (harmonic summation with an inter-harmonic penalty, and Viterbi, see ``_pitch``) and a
  harmonic comb on that f0 keeps the voice's partials while attenuating what lies between them
  by ``comb_floor``.

The product ``c`` of the cues splits each bin's magnitude into a voice estimate ``c |X|`` and an
accompaniment estimate ``(1 - c) |X|``; the mask applied is the Wiener (power-ratio) mask built
from them, ``c^2 / (c^2 + (1 - c)^2)``, which commits bins where one cue set clearly wins instead
of leaving every bin half-shared. Vocals are ``mask * X`` and accompaniment ``(1 - mask) * X``;
since the STFT reconstructs perfectly, the two stems always add up to the mixture.

Instruments. When ``drums``, ``bass`` or ``other`` is requested, the accompaniment mask is split
further by harmonic/percussive median filtering and a bass crossover (see ``_stems``); the three
shares add up to the accompaniment mask, so ``vocals + drums + bass + other`` is the mixture.
Otherwise none of that runs, and only the requested stems are resynthesised, so asking for
vocals and accompaniment alone costs what it did before the split existed.

Invariants. Frames sit at absolute sample positions and chunks of ``chunk_frames`` are processed
with a fixed look-ahead, so the output does not depend on how the input was cut into blocks.
Each stem yields exactly as many samples as went in (the tail is flushed with zero padding).
State is bounded (the history, one chunk and its look-ahead), so memory does not grow with the
stream's duration.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from yinzi.engines.separation._pitch import PitchTracker, harmonic_comb
from yinzi.engines.separation._repetition import RepetitionModel
from yinzi.engines.separation._stems import StemSplitter
from yinzi.engines.separation._stft import ChunkStream, Frames, separate_blocks
from yinzi.engines.separation.base import Block, Progress, check_stems

N_FFT = 2048
HOP = 512
INSTRUMENTS = ("drums", "bass", "other")
"""Stems split from the accompaniment; computed only when one of them is requested."""


@dataclass(frozen=True)
class SpectralOptions:
    """Tuning knobs; the defaults are generic, not fitted to any particular recording."""

    chunk_frames: int = 128  # frames masked per step (about 1.5 s)
    lookahead_frames: int = 256  # future frames the background model may use (latency ~4.5 s)
    history_seconds: float = 20.0  # past audio the background model searches; bounds memory
    neighbours: int = 100  # similar frames whose median is the background
    exclusion_seconds: float = 1.5  # never match frames this close (a held note is not a repeat)
    feature_max_hz: float = 8600.0  # band used to measure frame similarity
    centre_width: float = 0.6  # tolerance of the centre cue to left/right difference
    low_cut_hz: float = 150.0  # below this the mix goes mostly to the accompaniment
    high_cut_hz: float = 16000.0  # above this it goes entirely to the accompaniment
    comb_floor: float = 0.5  # mask kept between the voice's harmonics
    comb_width_bins: float = 0.8  # half-width of a harmonic's Gaussian at low frequency
    comb_growth: float = 0.004  # extra width per bin of harmonic frequency (vibrato)
    pitch_jump_cost: float = 0.15  # Viterbi cost per 1/3 semitone of f0 change per frame
    pitch_lookahead_frames: int = 8  # frames past the chunk used to settle the f0 path
    percussive_frames: int = 31  # time median for the harmonic estimate (about 0.36 s)
    percussive_bins: int = 17  # frequency median for the percussive estimate (about 370 Hz)
    kick_cut_hz: float = 0.0  # opt-in (e.g. 120): below it, what repeats counts as drums
    bass_cut_hz: float = 250.0  # crossover between bass and other for pitched sound


class SpectralSeparator:
    name: str = "separation.spectral"
    sample_rate: int = 44100
    stems: tuple[str, ...] = ("vocals", "accompaniment", *INSTRUMENTS)

    def __init__(self, *, options: SpectralOptions | None = None, **overrides: Any) -> None:
        """Use ``options`` (default: `SpectralOptions()`) with any field overridden by name."""
        self.options = replace(options or SpectralOptions(), **overrides)

    def separate(
        self,
        blocks: Iterable[Block],
        stems: Sequence[str],
        progress: Progress | None = None,
    ) -> Iterator[dict[str, Block]]:
        check_stems(stems, self.stems)

        def open_stream(channels: int) -> _Stream:
            return _Stream(channels, self.sample_rate, self.options, stems)

        return separate_blocks(blocks, open_stream, stems, self.sample_rate, progress)


class _Stream(ChunkStream):
    """Separation state for one stream of blocks with a fixed channel count."""

    def __init__(
        self, channels: int, rate: int, options: SpectralOptions, stems: Sequence[str]
    ) -> None:
        super().__init__(
            channels, N_FFT, HOP, stems, options.chunk_frames, options.lookahead_frames
        )
        self.options = options
        bin_hz = rate / N_FFT
        bins = N_FFT // 2 + 1
        frame_rate = rate / HOP
        self._repetition = RepetitionModel(
            neighbours=options.neighbours,
            history=int(options.history_seconds * frame_rate),
            exclusion=int(options.exclusion_seconds * frame_rate),
            feature_bins=int(options.feature_max_hz / bin_hz),
        )
        freqs = np.arange(bins, dtype=np.float64) * bin_hz
        self._model_bins = int(np.searchsorted(freqs, options.high_cut_hz))
        self._band = _band_pass(freqs[: self._model_bins], options.low_cut_hz)
        self._pitch = PitchTracker(
            bin_hz, self._model_bins, jump_cost=options.pitch_jump_cost, frame_rate=frame_rate
        )
        self._bin_hz = bin_hz
        self._bins = bins
        self._splitter: StemSplitter | None = None
        self._foreground: Block = np.zeros((0, self._model_bins), np.float32)
        if any(stem in INSTRUMENTS for stem in stems):
            self._splitter = StemSplitter(
                freqs,
                time_frames=options.percussive_frames,
                freq_bins=options.percussive_bins,
                bass_cut_hz=options.bass_cut_hz,
                kick_cut_hz=options.kick_cut_hz,
                future_limit=options.lookahead_frames,
            )

    def separate(self, spectra: Frames, count: int) -> dict[str, Frames]:
        masks = self._masks(spectra, count)
        chunk = spectra[:, :count]
        return {stem: (chunk * masks[stem]).astype(np.complex64) for stem in self.outputs}

    def _masks(self, spectra: Frames, count: int) -> dict[str, Block]:
        """The mask of every stem for the first ``count`` frames of ``spectra``."""
        vocals = self._vocal_mask(spectra, count)
        masks = {"vocals": vocals, "accompaniment": 1 - vocals}
        if self._splitter is not None:
            rest = masks["accompaniment"]
            near = spectra[:, : count + self._splitter.lookahead]
            mags = np.abs(near).mean(axis=0).astype(np.float32)
            lookahead = mags.shape[0] - count
            rest_mags = mags * np.concatenate([rest, np.ones((lookahead, self._bins), np.float32)])
            drums, bass = self._splitter.shares(rest_mags, 1 - self._foreground, count)
            masks["drums"] = rest * drums
            masks["bass"] = rest * bass
            masks["other"] = rest - masks["drums"] - masks["bass"]
        return masks

    def _vocal_mask(self, spectra: Frames, count: int) -> Block:
        """Vocal mask ``(count, bins)`` for the first ``count`` frames of ``spectra``."""
        options = self.options
        spectra = spectra[:, :, : self._model_bins]
        mags = np.abs(spectra).mean(axis=0).astype(np.float32)
        horizon = count + min(options.pitch_lookahead_frames, spectra.shape[1] - count)
        background = self._repetition.background(mags, horizon, count)
        foreground = 1.0 - np.minimum(background, mags[:horizon]) / (mags[:horizon] + 1e-9)
        self._foreground = foreground[:count]  # the drum split reuses it
        centre = _centre(spectra[:, :horizon], options.centre_width)
        mask = foreground * self._band * centre
        f0 = self._pitch.track(mags[:horizon] * mask, count)
        comb = harmonic_comb(
            f0,
            self._bin_hz,
            mags.shape[1],
            width=options.comb_width_bins,
            growth=options.comb_growth,
        )
        voiced = _wiener(mask[:count] * (options.comb_floor + (1 - options.comb_floor) * comb))
        above = np.zeros((count, self._bins - self._model_bins), np.float32)
        return np.concatenate([voiced, above], axis=1)


def _centre(spectra: Frames, width: float) -> Block:
    """How centred each bin is, 1 for a source panned to the middle (always 1 for mono)."""
    if spectra.shape[0] != 2:
        return np.ones(spectra.shape[1:], np.float32)
    left, right = spectra[0], spectra[1]
    power = np.abs(left) ** 2 + np.abs(right) ** 2 + 1e-12
    centre = np.exp(-(np.abs(left - right) ** 2) / power / width)
    return np.asarray(centre, np.float32)


def _wiener(cues: Block) -> Block:
    """The power-ratio mask from the magnitude estimates ``cues * |X|`` and ``(1 - cues) * |X|``."""
    voice, rest = cues * cues, (1 - cues) * (1 - cues)
    return np.asarray(voice / (voice + rest), np.float32)  # the denominator is at least 1/2


def _band_pass(freqs: npt.NDArray[np.float64], low_cut_hz: float) -> Block:
    """A smooth 4th-order high-pass shape: 0 well below ``low_cut_hz``, 1 well above."""
    ratio = low_cut_hz / np.maximum(freqs, 1.0)
    return np.asarray(1.0 / (1.0 + ratio**4), np.float32)
