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

from collections.abc import Callable, Iterable, Iterator, Sequence

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


class ChunkStream:
    """A stream of ``(channels, n)`` blocks separated a chunk of frames at a time.

    Frames are buffered until ``chunk`` of them and their ``lookahead`` are there; subclasses
    turn each chunk into every stem's spectra (`separate`), which are resynthesised for the
    stems asked for only (one at least, to count the samples out).
    """

    def __init__(
        self,
        channels: int,
        n_fft: int,
        hop: int,
        stems: Sequence[str],
        chunk: int,
        lookahead: int,
        window: Samples | None = None,
    ) -> None:
        self.channels = channels
        self.total = 0
        self.emitted = 0
        self._n_fft = n_fft
        self._chunk = chunk
        self._lookahead = lookahead
        self._analyser = FrameAnalyser(channels, n_fft, hop, window)
        self.outputs = list(stems) or ["vocals"]
        self._synths = {stem: OverlapAdd(channels, n_fft, hop, window) for stem in self.outputs}
        self._pending: Frames = np.zeros((channels, 0, n_fft // 2 + 1), np.complex64)

    def separate(self, spectra: Frames, count: int) -> dict[str, Frames]:
        """The spectra of (at least) every stem in `outputs` for the first ``count`` frames of
        ``spectra``, which holds up to ``lookahead`` frames more."""
        raise NotImplementedError

    def push(self, block: Samples) -> dict[str, Samples]:
        self.total += block.shape[1]
        self._pending = np.concatenate([self._pending, self._analyser.push(block)], axis=1)
        ready = self._chunk + self._lookahead
        return self._drain(lambda pending: pending >= ready)

    def finish(self) -> dict[str, Samples]:
        """Flush: pad with zeros so every input sample is covered, then trim to the input length."""
        padding = np.zeros((self.channels, self._n_fft), np.float32)
        self._pending = np.concatenate([self._pending, self._analyser.push(padding)], axis=1)
        out = self._drain(lambda pending: pending > 0)
        keep = self.total - self.emitted + next(iter(out.values())).shape[1]
        return {stem: samples[:, :keep] for stem, samples in out.items()}

    def _drain(self, more: Callable[[int], bool]) -> dict[str, Samples]:
        parts: dict[str, list[Samples]] = {stem: [] for stem in self._synths}
        while more(self._pending.shape[1]):
            count = min(self._chunk, self._pending.shape[1])
            # exactly the chunk and its look-ahead, however many frames the blocks brought
            spectra = self.separate(self._pending[:, : count + self._lookahead], count)
            for stem, synth in self._synths.items():
                parts[stem].append(synth.push(spectra[stem]))
            self._pending = self._pending[:, count:]
        empty = np.zeros((self.channels, 0), np.float32)
        out = {stem: np.concatenate([empty, *pieces], axis=1) for stem, pieces in parts.items()}
        self.emitted += next(iter(out.values())).shape[1]
        return out


def separate_blocks(
    blocks: Iterable[Samples],
    open_stream: Callable[[int], ChunkStream],
    stems: Sequence[str],
    sample_rate: int,
    progress: Callable[[float], None] | None = None,
) -> Iterator[dict[str, Samples]]:
    """Run ``blocks`` through a stream opened for the first block's channel count, yielding the
    ``stems`` asked for and reporting the seconds read to ``progress``."""
    stream: ChunkStream | None = None
    seen = 0
    for block in blocks:
        block = np.asarray(block, np.float32)
        stream = stream or open_stream(block.shape[0])
        if block.shape[0] != stream.channels:
            raise ValueError(f"block has {block.shape[0]} channels, expected {stream.channels}")
        seen += block.shape[1]
        yield from _select(stream.push(block), stems)
        if progress is not None:
            progress(seen / sample_rate)
    if stream is not None:
        yield from _select(stream.finish(), stems)


def _select(by_name: dict[str, Samples], stems: Sequence[str]) -> Iterator[dict[str, Samples]]:
    if next(iter(by_name.values())).shape[1]:
        yield {stem: by_name[stem] for stem in stems}
