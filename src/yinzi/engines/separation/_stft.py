"""Streaming short-time Fourier transform with perfect reconstruction.

Frames sit at fixed absolute positions: frame ``j`` covers samples ``[j*hop - pad, j*hop - pad +
n_fft)`` of the input, where ``pad = n_fft - hop`` leading zeros are implied. Because frame
positions never depend on how the input was cut into blocks, any block pattern yields the same
frames. The same window is used for analysis and synthesis, a square-root Hann unless another is
given (Spleeter's networks expect Hann-windowed magnitudes); with ``hop = n_fft / 4`` the squared
windows of either sum to a constant, which synthesis divides out, so resynthesising unmodified
frames returns the input exactly (delayed by ``pad`` samples, which `OverlapAdd` drops).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import fft

Frames = npt.NDArray[np.complex64]
"""Spectra shaped ``(channels, frames, n_fft // 2 + 1)``."""
Samples = npt.NDArray[np.float32]


def hann(n_fft: int) -> Samples:
    """The periodic Hann window."""
    return np.hanning(n_fft + 1)[:-1].astype(np.float32)


def sqrt_hann(n_fft: int) -> Samples:
    """The periodic square-root Hann window."""
    return np.sqrt(hann(n_fft))


class FrameAnalyser:
    """Cuts a stream of ``(channels, n)`` blocks into windowed spectra."""

    def __init__(self, channels: int, n_fft: int, hop: int, window: Samples | None = None) -> None:
        self.n_fft = n_fft
        self.hop = hop
        self._window = sqrt_hann(n_fft) if window is None else window
        self._pending: Samples = np.zeros((channels, n_fft - hop), np.float32)

    def push(self, block: Samples) -> Frames:
        """Append samples and return the spectra of every frame now complete."""
        buffer = np.concatenate([self._pending, block], axis=1)
        count = max((buffer.shape[1] - self.n_fft) // self.hop + 1, 0)
        if count == 0:
            self._pending = buffer
            return np.zeros((buffer.shape[0], 0, self.n_fft // 2 + 1), np.complex64)
        windows = np.lib.stride_tricks.sliding_window_view(buffer, self.n_fft, axis=1)
        frames = windows[:, : count * self.hop : self.hop] * self._window
        self._pending = buffer[:, count * self.hop :]
        return np.asarray(fft.rfft(frames, axis=-1), dtype=np.complex64)


class OverlapAdd:
    """Turns spectra back into samples, emitting only samples no later frame can change."""

    def __init__(self, channels: int, n_fft: int, hop: int, window: Samples | None = None) -> None:
        """``window``: the analysis window (square-root Hann by default); synthesis uses it too."""
        self.n_fft = n_fft
        self.hop = hop
        window = sqrt_hann(n_fft) if window is None else window
        self._window = window * np.float32(hop / np.sum(window**2))
        self._tail: Samples = np.zeros((channels, n_fft - hop), np.float32)
        self._to_skip = n_fft - hop

    def push(self, spectra: Frames) -> Samples:
        count = spectra.shape[1]
        frames = np.asarray(fft.irfft(spectra, n=self.n_fft, axis=-1), np.float32) * self._window
        channels = frames.shape[0]
        out = np.zeros((channels, count * self.hop + self.n_fft - self.hop), np.float32)
        out[:, : self._tail.shape[1]] += self._tail
        ratio = self.n_fft // self.hop
        for phase in range(min(ratio, count)):
            subset = frames[:, phase::ratio]
            start = phase * self.hop
            out[:, start : start + subset.shape[1] * self.n_fft] += subset.reshape(channels, -1)
        ready, self._tail = out[:, : count * self.hop], out[:, count * self.hop :]
        skipped = min(self._to_skip, ready.shape[1])
        self._to_skip -= skipped
        return ready[:, skipped:]
