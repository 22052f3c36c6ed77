"""Integrated loudness (ITU-R BS.1770-4) and a transparent peak limiter.

Loudness. Each channel goes through the K-weighting filter, a high shelf (+4 dB above about
1.7 kHz, the head's effect) followed by a high-pass at about 38 Hz (RLB weighting); both
biquads are designed for the actual sample rate from the standard's analogue parameters by the
bilinear transform (as libebur128 does), so at 48 kHz they are the coefficients printed in the
standard. Mean squares over 400 ms blocks with 75 % overlap are summed over channels (weight 1
for left and right); blocks below -70 LUFS are dropped (absolute gate), then blocks more than
10 LU below the mean of the rest (relative gate); the loudness of what remains is
``-0.691 + 10 log10(mean)``. A clip shorter than one block is measured as a single block.

Limiter. The gain each sample needs to stay under the ceiling is passed through a centred
minimum filter and then a centred moving average of the same width: every sample's gain is then
at most what it needed (each average only spans minima that cover it), and the gain moves
smoothly over a few milliseconds instead of clipping the waveform.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

F64 = npt.NDArray[np.float64]
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0


def k_weighting(sample_rate: int) -> F64:
    """The K-weighting filter as second-order sections (libebur128's bilinear design)."""
    k = np.tan(np.pi * 1681.974450955533 / sample_rate)
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]  # fmt: skip
    k = np.tan(np.pi * 38.13547087602444 / sample_rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.asarray([shelf, high_pass], dtype=np.float64)


def integrated_loudness(audio: npt.NDArray[np.floating], sample_rate: int) -> float:
    """Loudness of ``(channels, n)`` audio in LUFS (``-inf`` for silence)."""
    weighted = signal.sosfilt(k_weighting(sample_rate), np.asarray(audio, np.float64), axis=-1)
    power = np.sum(weighted**2, axis=0)
    block, step = round(0.4 * sample_rate), round(0.1 * sample_rate)
    if len(power) <= block:
        means = np.array([power.mean()]) if len(power) else np.zeros(1)
    else:
        cumulative = np.concatenate(([0.0], np.cumsum(power)))
        starts = np.arange(0, len(power) - block + 1, step)
        means = (cumulative[starts + block] - cumulative[starts]) / block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(means)
    kept = means[levels > ABSOLUTE_GATE]
    if kept.size == 0:
        return float("-inf")
    threshold = -0.691 + 10 * np.log10(kept.mean()) + RELATIVE_GATE
    kept = means[(levels > ABSOLUTE_GATE) & (levels > threshold)]
    return float(-0.691 + 10 * np.log10(kept.mean()))


def limit(audio: F64, sample_rate: int, ceiling: float = 0.95, window_s: float = 0.004) -> F64:
    """``audio`` with its peaks brought under ``ceiling`` by a smooth gain."""
    peak = np.max(np.abs(audio), axis=0)
    if peak.max(initial=0.0) <= ceiling:
        return audio
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    width = 2 * round(window_s * sample_rate / 2) + 1
    floor = ndimage.minimum_filter1d(need, width, mode="nearest")
    gain = ndimage.uniform_filter1d(floor, width, mode="nearest")
    limited: F64 = audio * np.minimum(gain, need)
    return limited
