"""Cut a stream into overlapping chunks, run a model on each, and crossfade the results.

A chunk is ``length`` samples; consecutive chunks start ``length - crossfade`` apart, so each
shares its first ``crossfade`` samples with the end of the one before. In that shared stretch
the two outputs are mixed with complementary linear ramps (the weights add up to one at every
sample), so a seam has no step even though the model saw different context on either side.

Invariants: every input sample is emitted exactly once, in order, together with the input
(mixture) samples it came from; memory holds at most one chunk plus the block being pushed.
The output does not depend on how the input was cut into blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]
Model = Callable[[Audio], Audio]
"""Maps a chunk ``(channels, n)`` to its sources ``(sources, channels, n)``."""


@dataclass(frozen=True)
class Piece:
    """Separated sources ``(sources, channels, n)`` and the mixture ``(channels, n)`` they came
    from; ``end`` is the absolute sample index just after the piece."""

    sources: Audio
    mixture: Audio
    end: int


class CrossfadeChunker:
    """Streaming chunked application of ``model`` with linear crossfades between chunks."""

    def __init__(self, model: Model, channels: int, length: int, crossfade: int) -> None:
        if not 0 <= crossfade <= length // 2:
            raise ValueError(f"crossfade {crossfade} must lie in [0, {length // 2}]")
        self._model = model
        self._length = length
        self._crossfade = crossfade
        self._buffer: Audio = np.zeros((channels, 0), np.float32)
        self._tail: Audio | None = None  # the previous chunk's output over the shared stretch
        self._emitted = 0

    def push(self, block: Audio) -> Iterator[Piece]:
        """Add ``block`` and yield every piece that can now be finished."""
        self._buffer = np.concatenate([self._buffer, block], axis=1)
        while self._buffer.shape[1] >= self._length:
            yield self._step(self._buffer[:, : self._length], final=False)

    def finish(self) -> Iterator[Piece]:
        """Process what is left (a chunk shorter than ``length``) and yield the last piece."""
        pending = self._buffer.shape[1]
        if pending == 0 or (self._tail is not None and pending <= self._crossfade):
            if self._tail is not None and pending:
                yield self._emit(self._tail[..., :pending], pending)
            return
        yield self._step(self._buffer, final=True)

    def _step(self, chunk: Audio, *, final: bool) -> Piece:
        out = self._model(chunk)
        if self._tail is not None:
            out = _blend(self._tail, out)
        if final:
            return self._emit(out, out.shape[-1])
        keep = self._length - self._crossfade
        self._tail = out[..., keep:]
        return self._emit(out[..., :keep], keep)

    def _emit(self, sources: Audio, count: int) -> Piece:
        mixture = self._buffer[:, :count]
        self._buffer = self._buffer[:, count:]
        self._emitted += count
        return Piece(sources, mixture, self._emitted)


def _blend(tail: Audio, out: Audio) -> Audio:
    """Crossfade ``tail`` (fading out) into the start of ``out`` (fading in)."""
    shared = min(tail.shape[-1], out.shape[-1])
    if shared == 0:
        return out
    fade_in = ((np.arange(shared, dtype=np.float32) + 0.5) / tail.shape[-1]).astype(np.float32)
    mixed = out.copy()
    mixed[..., :shared] = tail[..., :shared] * (1 - fade_in) + out[..., :shared] * fade_in
    return mixed
