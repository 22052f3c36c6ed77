"""Streaming voice-activity detection: cut a long recording into utterances at its pauses.

Method. The signal is cut into 10 ms frames and each frame's energy is taken in dB (full scale =
0 dB). The noise floor at a frame is the lowest frame energy within ``floor_window`` seconds on
either side of it (minimum statistics: even continuous speech has closures and breaths, so the
minimum over a few seconds sits near the background level whether the recording starts with
speech or with silence). A frame is voiced when its energy is ``margin_db`` above that floor and
above an absolute ``silence_db`` (digital silence and faint hiss are never speech). An utterance
is a run of voiced frames whose gaps are shorter than ``min_pause``; it is handed on with
``pad`` seconds of context on each side (the recogniser needs some silence around the words;
the context after an utterance takes at most half of the pause that ended it).
Runs with less than ``min_speech`` of voiced frames (clicks, pops) are dropped.

Invariants:

- Memory is bounded whatever the input length: the detector holds at most one utterance of
  ``max_seconds`` plus the look-ahead window. An utterance that reaches ``max_seconds`` without a
  pause is cut at its quietest 10 ms frame within its second half, and the rest carries on.
- Utterances come out in time order, do not overlap, and lie within the input; ``start`` is the
  index of their first sample in the input.
- Decisions are delayed by ``floor_window`` seconds (the floor's look-ahead), so an utterance is
  emitted at most ``min_pause + floor_window`` seconds of input after it ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]
_FRAME_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class Utterance:
    start: int
    """Index in the input of the first sample of ``samples``."""
    samples: Samples


@dataclass(frozen=True, slots=True)
class VadSettings:
    min_pause: float = 0.25
    """Seconds of non-speech that end an utterance."""
    min_speech: float = 0.1
    """Seconds of voiced frames an utterance needs to be kept."""
    pad: float = 0.2
    """Seconds of context kept before and after the voiced frames."""
    max_seconds: float = 20.0
    """Longest utterance; a longer run is cut at its quietest frame."""
    margin_db: float = 12.0
    silence_db: float = -60.0
    floor_window: float = 1.5


class UtteranceSplitter:
    """Feed mono float32 samples with :meth:`feed`; it yields each utterance once it is over."""

    def __init__(self, sample_rate: int, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self.frame = round(sample_rate * _FRAME_SECONDS)
        s = self.settings
        self._window = max(1, round(s.floor_window / _FRAME_SECONDS))
        self._pause = max(1, round(s.min_pause / _FRAME_SECONDS))
        self._pad = round(s.pad / _FRAME_SECONDS)
        # Context after an utterance takes at most half the pause that ended it; the rest of
        # the pause is left to the next utterance's leading context.
        self._end_pad = min(self._pad, self._pause // 2)
        self._min_voiced = max(1, round(s.min_speech / _FRAME_SECONDS))
        self._max = max(2 * self._pad + 2, round(s.max_seconds / _FRAME_SECONDS))
        # Audio kept, as whole frames from frame index ``_base`` on, plus a partial frame.
        self._audio: list[Samples] = []
        self._base = 0
        self._tail = np.zeros(0, np.float32)
        self._energy = np.zeros(0, np.float64)  # energies of frames from ``_energy_base`` on
        self._energy_base = 0
        self._decided = 0  # frames whose voicing is decided
        self._run_start: int | None = None  # first voiced frame of the current utterance
        self._last_voiced = 0
        self._voiced = 0
        self._emitted = 0  # frames already handed out: utterances never overlap

    def feed(self, samples: Samples) -> Iterator[Utterance]:
        joined = np.concatenate([self._tail, samples]) if self._tail.size else samples
        whole = joined.size // self.frame * self.frame
        self._tail = joined[whole:].astype(np.float32, copy=True)
        if whole:
            frames = joined[:whole].astype(np.float32, copy=False)
            self._audio.append(frames)
            power = np.square(frames.reshape(-1, self.frame), dtype=np.float64).mean(axis=1)
            self._energy = np.concatenate([self._energy, 10 * np.log10(power + 1e-12)])
        yield from self._decide(final=False)

    def finish(self) -> Iterator[Utterance]:
        """Flush: the input is over (its last partial frame counts as silence)."""
        yield from self._decide(final=True)
        if self._run_start is not None:
            yield from self._close(self._last_voiced + 1)
        self._audio, self._tail = [], np.zeros(0, np.float32)

    # -- internals -----------------------------------------------------------------------------

    @property
    def _frames_seen(self) -> int:
        return self._energy_base + self._energy.size

    def _decide(self, final: bool) -> Iterator[Utterance]:
        seen = self._frames_seen
        until = seen if final else seen - self._window
        if until <= self._decided:
            return
        voiced = self._voicing(self._decided, until)
        for index, is_voiced in enumerate(voiced.tolist(), start=self._decided):
            if is_voiced:
                if self._run_start is None:
                    self._run_start, self._voiced = index, 0
                self._last_voiced, self._voiced = index, self._voiced + 1
            elif self._run_start is not None and index - self._last_voiced >= self._pause:
                yield from self._close(self._last_voiced + 1)
            if self._run_start is not None and index + 1 - self._run_start >= self._max:
                yield from self._cut_long(index + 1)
        self._decided = until
        self._forget()

    def _voicing(self, first: int, until: int) -> npt.NDArray[np.bool_]:
        energy, base = self._energy, self._energy_base
        lo = max(first - self._window, base)
        hi = min(until + self._window, base + energy.size)
        span = energy[lo - base : hi - base]
        padded = np.pad(span, (self._window, self._window), constant_values=np.inf)
        view = np.lib.stride_tricks.sliding_window_view(padded, 2 * self._window + 1)
        floor = view.min(axis=1)[first - lo : until - lo]
        mine = energy[first - base : until - base]
        threshold = np.maximum(floor + self.settings.margin_db, self.settings.silence_db)
        result: npt.NDArray[np.bool_] = mine > threshold
        return result

    def _close(self, end_frame: int) -> Iterator[Utterance]:
        start, voiced = self._run_start, self._voiced
        self._run_start, self._voiced = None, 0
        if start is None or voiced < self._min_voiced:
            return
        stop = min(end_frame + self._end_pad, self._frames_seen)
        yield self._utterance(start - self._pad, stop)

    def _cut_long(self, end_frame: int) -> Iterator[Utterance]:
        """The current utterance reached its maximum length: cut at its quietest frame."""
        start = self._run_start
        assert start is not None
        half = start + (end_frame - start) // 2
        base = self._energy_base
        cut = half + int(np.argmin(self._energy[half - base : end_frame - base]))
        yield self._utterance(start - self._pad, cut)
        self._run_start, self._voiced = cut, max(1, self._last_voiced + 1 - cut)
        self._last_voiced = max(self._last_voiced, cut)

    def _utterance(self, first: int, stop: int) -> Utterance:
        first = max(first, self._base, self._emitted)
        self._emitted = stop
        audio = np.concatenate(self._audio) if len(self._audio) > 1 else self._audio[0]
        self._audio = [audio]
        begin, end = (first - self._base) * self.frame, (stop - self._base) * self.frame
        return Utterance(start=first * self.frame, samples=audio[begin:end].copy())

    def _forget(self) -> None:
        """Drop audio and energies that no utterance can need any more."""
        keep_from = self._decided - self._pad - self._pause
        if self._run_start is not None:
            keep_from = min(keep_from, self._run_start - self._pad)
        keep_audio = max(self._base, keep_from)
        if keep_audio > self._base and self._audio:
            audio = np.concatenate(self._audio) if len(self._audio) > 1 else self._audio[0]
            self._audio = [audio[(keep_audio - self._base) * self.frame :]]
            self._base = keep_audio
        keep_energy = max(self._energy_base, min(keep_audio, self._decided - self._window))
        if keep_energy > self._energy_base:
            self._energy = self._energy[keep_energy - self._energy_base :]
            self._energy_base = keep_energy


def utterances(
    blocks: Iterable[Samples], sample_rate: int, settings: VadSettings | None = None
) -> Iterator[Utterance]:
    """Split a stream of mono float32 sample arrays into utterances, lazily."""
    splitter = UtteranceSplitter(sample_rate, settings)
    for block in blocks:
        yield from splitter.feed(block)
    yield from splitter.finish()
