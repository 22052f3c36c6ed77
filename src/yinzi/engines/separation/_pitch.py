"""Predominant-f0 tracking of the voice and the harmonic comb built from it.

Input. The tracker sees the voice estimate (the mixture magnitude times the repetition, centre and
band cues), not the mixture: what repeats or sits off-centre is already mostly gone from it.

Salience is harmonic summation, mostly on the magnitudes themselves rather than on a whitened
spectrum: after the cues the voice is usually the loudest harmonic source left, and whitening
alone hands a quiet steady instrument the same weight as a loud voice (on the development clips
the level-aware salience found the voice's f0 about 80% of the time, the whitened one about 50%).
For each candidate f0 on a log grid the magnitudes at its harmonics ``h * f0`` are summed with
decaying weights, and the magnitudes half-way between harmonics, ``(h +- 1/2) * f0``, are
subtracted with half those weights. The inter-harmonic term makes octave errors unattractive: at
twice the true f0 the odd partials fall exactly on those half-way points, and at half the true f0
every other "harmonic" lands on nothing. This salience is divided by a running level (an
exponential average, half-life ``LEVEL_HALF_LIFE`` seconds, of a loud-frame statistic), so loud,
clearly pitched frames steer the path more than quiet ones while the result stays independent of
the overall gain. A level-blind term, the harmonic sum of the whitened spectrum (divided by its
local mean over frequency, floored and capped) scaled to 1 per frame, is added with weight
``WHITENED_SHARE``: it keeps the tracker on a voice with many clear partials when a louder,
poorer source (a bass line the cues left in) would otherwise win on level alone.

A Viterbi search with a cost per step of pitch change turns the frame-wise salience into a smooth
contour; its forward scores and the level are carried from chunk to chunk so tracking streams
with bounded state. The comb is a Gaussian around each harmonic of the tracked f0, widening with
frequency to cover vibrato.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse

Floats = npt.NDArray[np.float32]

F0_MIN = 60.0  # a low bass voice
F0_MAX = 1100.0  # a high soprano
STEPS_PER_OCTAVE = 36
HARMONICS = 20
SALIENCE_MAX_HZ = 5000.0
HARMONIC_DECAY = 0.85
INTER_HARMONIC_WEIGHT = 1.0  # relative weight of the half-way penalty (split over both sides)
LEVEL_PERCENTILE = 90.0  # per chunk, the level is this percentile of the frames' peak salience
LEVEL_HALF_LIFE = 10.0  # seconds
WHITENED_SHARE = 0.5  # weight of the level-blind salience, each frame scaled to a maximum of 1
WHITENING_BINS = 31
WHITE_FLOOR = 0.5
WHITE_CEILING = 10.0


def f0_grid() -> Floats:
    steps = int(STEPS_PER_OCTAVE * np.log2(F0_MAX / F0_MIN))
    return (F0_MIN * 2 ** (np.arange(steps) / STEPS_PER_OCTAVE)).astype(np.float32)


def salience_matrix(
    grid: Floats, bin_hz: float, bins: int, *, penalty: float = INTER_HARMONIC_WEIGHT
) -> sparse.csr_matrix:
    """Maps a magnitude spectrum ``(bins,)`` to harmonic-sum salience ``(len(grid),)``."""
    harmonics = np.arange(1, HARMONICS + 1, dtype=np.float64)
    decay = HARMONIC_DECAY ** (harmonics - 1)
    half = -0.5 * penalty * decay
    offsets = [(harmonics, decay), (harmonics - 0.5, half), (harmonics + 0.5, half)]
    rows, cols, vals = [], [], []
    for multiples, weight in offsets:
        freqs = grid[:, None].astype(np.float64) * multiples[None, :]
        weights = np.where(freqs <= SALIENCE_MAX_HZ, weight[None, :], 0.0)
        position = freqs / bin_hz
        lower = np.floor(position).astype(int)
        frac = position - lower
        candidate = np.broadcast_to(np.arange(len(grid))[:, None], freqs.shape).ravel()
        for row, share in ((lower, 1 - frac), (lower + 1, frac)):
            rows.append(row.ravel())
            cols.append(candidate)
            vals.append((weights * share).ravel())
    row_all, col_all, val_all = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    keep = (val_all != 0) & (row_all < bins)
    matrix = sparse.csr_matrix(
        (val_all[keep], (row_all[keep], col_all[keep])), shape=(bins, len(grid))
    )
    return matrix.astype(np.float32)


class PitchTracker:
    """Streaming Viterbi over the f0 grid."""

    def __init__(self, bin_hz: float, bins: int, *, jump_cost: float, frame_rate: float) -> None:
        self.grid = f0_grid()
        self._matrix = salience_matrix(self.grid, bin_hz, bins).T.tocsr()
        self._white_matrix = salience_matrix(self.grid, bin_hz, bins, penalty=0.0).T.tocsr()
        steps = np.arange(len(self.grid))
        self._penalty = (jump_cost * np.abs(steps[:, None] - steps[None, :])).astype(np.float32)
        self._score = np.zeros(len(self.grid), np.float32)
        self._frame_rate = frame_rate
        self._level: float | None = None

    def track(self, mags: Floats, count: int) -> Floats:
        """f0 in Hz of the first ``count`` frames, using the rest as look-ahead."""
        sal = self._salience(mags, count)
        score = self._score
        back = np.zeros(sal.shape, np.intp)
        for t in range(sal.shape[0]):
            if t == count:
                self._score = score - score.max()
            candidates = score[None, :] - self._penalty
            back[t] = candidates.argmax(axis=1)
            score = candidates[np.arange(len(score)), back[t]] + sal[t]
        if count == sal.shape[0]:
            self._score = score - score.max()
        return self.grid[self._backtrack(back, int(score.argmax()))[:count]]

    def _salience(self, mags: Floats, count: int) -> Floats:
        """Salience ``(frames, candidates)`` in units of the running loud-frame level."""
        sal = np.asarray(self._matrix @ mags.T, np.float32).T
        chunk_level = float(np.percentile(sal[:count].max(axis=1), LEVEL_PERCENTILE))
        if self._level is None:
            self._level = chunk_level
        else:
            keep = 0.5 ** (count / self._frame_rate / LEVEL_HALF_LIFE)
            self._level = keep * self._level + (1 - keep) * chunk_level
        return sal / np.float32(max(self._level, 1e-9)) + WHITENED_SHARE * self._blind(mags)

    def _blind(self, mags: Floats) -> Floats:
        """Level-blind salience: harmonic sums of the whitened spectrum, peak 1 per frame."""
        envelope = ndimage.uniform_filter1d(mags, size=WHITENING_BINS, axis=1) + 1e-9
        white = np.clip(mags / envelope - WHITE_FLOOR, 0.0, WHITE_CEILING)
        sal = np.asarray(self._white_matrix @ white.T, np.float32).T
        return np.asarray(sal / (sal.max(axis=1, keepdims=True) + 1e-9), np.float32)

    @staticmethod
    def _backtrack(back: npt.NDArray[np.intp], last: int) -> npt.NDArray[np.intp]:
        path = np.empty(back.shape[0], np.intp)
        path[-1] = last
        for t in range(back.shape[0] - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path


def harmonic_comb(f0: Floats, bin_hz: float, bins: int, *, width: float, growth: float) -> Floats:
    """Mask ``(frames, bins)`` close to 1 on the harmonics of ``f0`` and 0 between them."""
    freqs = np.arange(bins, dtype=np.float32) * bin_hz
    harmonic = np.maximum(np.round(freqs[None, :] / f0[:, None]), 1.0)
    distance = np.abs(freqs[None, :] - harmonic * f0[:, None]) / bin_hz
    spread = width + growth * harmonic * f0[:, None] / bin_hz
    return np.exp(-0.5 * (distance / spread) ** 2).astype(np.float32)
