"""Splitting the non-vocal part of the mixture into drums, bass and other.

Method. Harmonic/percussive separation by median filtering (Fitzgerald 2010): on a magnitude
spectrogram, a pitched instrument is a horizontal line (steady over time, narrow in frequency) and
a drum hit a vertical one (short in time, spread over frequency). A median across time
(``time_frames`` frames) keeps the lines and removes the hits, giving a harmonic estimate ``H``; a
median across frequency (``freq_bins`` bins) does the opposite, giving a percussive estimate
``P``. The drum share of a bin is the Wiener (power-ratio) share ``P^2 / (P^2 + H^2)``. What is
not percussive is pitched; its part below a soft 4th-order crossover at ``bass_cut_hz`` is the
bass and the rest is other. The kick drum's low-frequency energy goes to the drums through the
percussive share, not through the crossover.

The kick's body is the exception HPSS misses: a decaying low sine of a few hundred milliseconds
is a horizontal line too, so it ends up in the bass. An opt-in kick cue (``kick_cut_hz > 0``,
off by default) addresses it: below a soft crossover at ``kick_cut_hz`` the drum share is at
least the repetition share of the bin, the Wiener share of the REPET-SIM background (computed
for the vocal mask anyway): a drum pattern comes back identical bar after bar, whereas the bass
under it follows the harmony, so the median of the most similar frames keeps the kick and loses
much of the bass. It is off by default because below ~120 Hz the 21.5-Hz bins cannot tell one
bass note from the next: a plain low sine bass then looks repeating and is handed to the drums
(on the development clips, whose basses are rich in partials, it lifts drums from about +1.7 to
+6.5 dB). The three shares add up to 1 in every bin, so multiplying them by the non-vocal
mask keeps ``vocals + drums + bass + other == mixture``.

The magnitudes filtered are the accompaniment estimate (the mixture with the vocal mask removed),
so a voice's consonants are not mistaken for hits.

Streaming. The time median of a frame needs ``time_frames // 2`` frames on each side: the past
ones are kept from the previous chunk (zeros before the stream starts, like the STFT's padding),
the future ones come from the look-ahead, at most ``future_limit`` of them, so the result depends
only on frame positions, never on how the input was cut into blocks. State is those few frames.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
"""Shaped ``(frames, bins)``."""


class StemSplitter:
    def __init__(
        self,
        freqs: npt.NDArray[np.float64],
        *,
        time_frames: int,
        freq_bins: int,
        bass_cut_hz: float,
        kick_cut_hz: float,
        future_limit: int,
        executor: Executor | None = None,
    ) -> None:
        """``executor``: where the frequency median runs while the time median runs here (the
        two are independent); None runs both in turn."""
        self._executor = executor
        self._half = time_frames // 2
        self._freq_half = freq_bins // 2
        self._future = min(self._half, future_limit)
        self._past: Floats = np.zeros((self._half, len(freqs)), np.float32)
        self._bass_share = _low_pass(freqs, bass_cut_hz)
        self._kick_share = _low_pass(freqs, kick_cut_hz) if kick_cut_hz > 0 else None

    @property
    def lookahead(self) -> int:
        """Frames past the chunk that `shares` uses."""
        return self._future

    def shares(self, mags: Floats, repeating: Floats, count: int) -> tuple[Floats, Floats]:
        """Drum and bass shares ``(count, bins)`` of the first ``count`` frames; other is the rest.

        ``mags`` are the accompaniment magnitudes of those frames followed by any look-ahead;
        ``repeating`` is the share of each of those frames' magnitude the repetition model
        explains, over the lowest ``repeating.shape[1]`` bins.
        """
        spread = np.pad(mags[:count], [(0, 0), (self._freq_half,) * 2], mode="reflect")
        if self._executor is None:
            percussive = _median(spread, self._freq_half, axis=1)
            harmonic = self._time_median(mags, count)
        else:
            later = self._executor.submit(_median, spread, self._freq_half, axis=1)
            harmonic = self._time_median(mags, count)
            percussive = later.result()
        drums = _power_share(percussive, harmonic)
        if self._kick_share is not None:
            low = repeating.shape[1]
            kick = _power_share(repeating, 1 - repeating) * self._kick_share[:low]
            drums[:, :low] = np.maximum(drums[:, :low], kick)
        return drums, np.asarray((1 - drums) * self._bass_share, np.float32)

    def _time_median(self, mags: Floats, count: int) -> Floats:
        future = mags[count : count + self._future]
        missing = self._half - future.shape[0]
        padding = np.zeros((missing, mags.shape[1]), np.float32)
        window = np.concatenate([self._past, mags[:count], future, padding])
        self._past = window[count : count + self._half]
        return _median(window, self._half, axis=0)


def _power_share(part: Floats, rest: Floats) -> Floats:
    """The Wiener share ``part^2 / (part^2 + rest^2)`` (0 where both are 0)."""
    part_power = part * part
    return np.asarray(part_power / (part_power + rest * rest + 1e-18), np.float32)


def _low_pass(freqs: npt.NDArray[np.float64], cut_hz: float) -> Floats:
    """A smooth 4th-order low-pass shape: 1 well below ``cut_hz``, 0 well above."""
    ratio = np.maximum(freqs, 1.0) / cut_hz
    return np.asarray(1.0 / (1.0 + ratio**4), np.float32)


def _median(values: Floats, half: int, *, axis: int) -> Floats:
    """Medians of the ``2 * half + 1`` wide windows along ``axis`` that fit inside ``values``."""
    windows = np.lib.stride_tricks.sliding_window_view(values, 2 * half + 1, axis=axis)
    stacked = np.array(windows)  # (frames, bins, width): a copy partition may reorder
    stacked.partition(half, axis=2)
    return np.asarray(stacked[..., half], np.float32)
