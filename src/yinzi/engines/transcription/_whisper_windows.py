"""Cut a stream of audio blocks into bounded windows for a model that wants one array.

faster-whisper takes the whole input as one array (VAD, the mel spectrogram and decoding all
work on it), so a long recording would need memory proportional to its length. ``windows``
accumulates blocks until it holds ``seconds`` of audio, cuts at the quietest moment of the
window's last stretch (so a cut rarely splits a word), yields that window and carries the rest
over. Invariant: the windows, concatenated, are exactly the input samples, in order, and each
window's ``start`` is the number of input seconds before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

QUIET_SEARCH_SECONDS = 30.0
"""At most this much of a window's end is searched for a quiet cut point."""
FRAME_SECONDS = 0.1
"""Loudness is measured over frames of this length."""


@dataclass(frozen=True)
class Window:
    start: float
    """Seconds of input before this window."""
    audio: Samples
    """Mono samples, 1-D."""
    last: bool
    """True for the final window of the input."""

    def duration(self, sample_rate: int) -> float:
        return len(self.audio) / sample_rate


def windows(blocks: Iterable[Samples], sample_rate: int, seconds: float) -> Iterator[Window]:
    """Yield ``Window``s of at most about ``seconds`` (plus one block) of mono audio."""
    size = max(1, round(seconds * sample_rate))
    pending: list[Samples] = []
    held = 0
    consumed = 0
    for block in blocks:
        mono = _mono(block)
        if not len(mono):
            continue
        pending.append(mono)
        held += len(mono)
        while held >= size:
            audio = np.concatenate(pending)
            cut = quiet_cut(audio[:size], sample_rate)
            yield Window(consumed / sample_rate, audio[:cut], last=False)
            consumed += cut
            pending, held = [audio[cut:]], len(audio) - cut
    audio = np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)
    yield Window(consumed / sample_rate, audio, last=True)


def quiet_cut(audio: Samples, sample_rate: int) -> int:
    """The index, in the last part of ``audio``, at the centre of its quietest frame."""
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    search = min(round(QUIET_SEARCH_SECONDS * sample_rate), len(audio) // 4)
    frames = search // frame
    if frames < 2:
        return len(audio)
    region = audio[len(audio) - frames * frame :].reshape(frames, frame)
    loudness = np.mean(np.square(region, dtype=np.float64), axis=1)
    quietest = int(np.argmin(loudness))
    return len(audio) - frames * frame + quietest * frame + frame // 2


def _mono(block: Samples) -> Samples:
    """A ``(channels, samples)`` block (mono by contract; a mix-down otherwise) as 1-D."""
    array = np.asarray(block, dtype=np.float32).reshape(-1, block.shape[-1])
    mono: Samples = array.mean(axis=0, dtype=np.float32) if array.shape[0] > 1 else array[0]
    return mono
