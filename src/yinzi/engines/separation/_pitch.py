"""Predominant-f0 tracking of the voice and the harmonic comb built from it.

Salience is harmonic summation: the spectrum is whitened (divided by its local mean over
frequency, so only peaks count, then floored so that a flat spectrum scores nothing and low f0
candidates gain nothing from their many harmonics), and for each candidate f0 on a log grid the
whitened magnitudes at its harmonics are summed with decaying weights. A Viterbi search with a
cost per step of pitch change turns frame-wise salience into a smooth contour; its forward scores
are carried from chunk to chunk so tracking streams. The comb is a Gaussian around each harmonic
of the tracked f0, widening with frequency to cover vibrato.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage, sparse

Floats = npt.NDArray[np.float32]

F0_MIN = 60.0
F0_MAX = 1100.0
STEPS_PER_OCTAVE = 36
HARMONICS = 20
SALIENCE_MAX_HZ = 5000.0
HARMONIC_DECAY = 0.85
WHITENING_BINS = 31
WHITE_FLOOR = 0.5
WHITE_CEILING = 10.0


def f0_grid() -> Floats:
    steps = int(STEPS_PER_OCTAVE * np.log2(F0_MAX / F0_MIN))
    return (F0_MIN * 2 ** (np.arange(steps) / STEPS_PER_OCTAVE)).astype(np.float32)


def salience_matrix(grid: Floats, bin_hz: float, bins: int) -> sparse.csr_matrix:
    """Maps a whitened spectrum ``(bins,)`` to harmonic-sum salience ``(len(grid),)``."""
    harmonics = np.arange(1, HARMONICS + 1)
    freqs = grid[:, None] * harmonics[None, :]
    weights = np.where(freqs <= SALIENCE_MAX_HZ, HARMONIC_DECAY ** (harmonics - 1), 0.0)
    position = freqs / bin_hz
    lower = np.floor(position).astype(int)
    frac = position - lower
    cols = np.broadcast_to(np.arange(len(grid))[:, None], freqs.shape)
    rows = np.concatenate([lower.ravel(), lower.ravel() + 1])
    vals = np.concatenate([(weights * (1 - frac)).ravel(), (weights * frac).ravel()])
    keep = (vals > 0) & (rows < bins)
    cols_all = np.concatenate([cols.ravel(), cols.ravel()])
    return sparse.csr_matrix((vals[keep], (rows[keep], cols_all[keep])), shape=(bins, len(grid)))


def salience(mags: Floats, matrix: sparse.csr_matrix) -> Floats:
    """Frame-wise salience ``(frames, candidates)`` scaled to a maximum of 1 per frame."""
    envelope = ndimage.uniform_filter1d(mags, size=WHITENING_BINS, axis=1) + 1e-9
    white = np.clip(mags / envelope - WHITE_FLOOR, 0.0, WHITE_CEILING)
    sal = np.asarray(matrix.T @ white.T).T
    return np.asarray(sal / (sal.max(axis=1, keepdims=True) + 1e-9), np.float32)


class PitchTracker:
    """Streaming Viterbi over the f0 grid."""

    def __init__(self, bin_hz: float, bins: int, *, jump_cost: float) -> None:
        self.grid = f0_grid()
        self._matrix = salience_matrix(self.grid, bin_hz, bins)
        steps = np.arange(len(self.grid))
        self._penalty = (jump_cost * np.abs(steps[:, None] - steps[None, :])).astype(np.float32)
        self._score = np.zeros(len(self.grid), np.float32)

    def track(self, mags: Floats, count: int) -> Floats:
        """f0 in Hz of the first ``count`` frames, using the rest as look-ahead."""
        sal = salience(mags, self._matrix)
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
