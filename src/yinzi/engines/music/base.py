"""The music-generation interface.

A composer turns a short English prompt and a length in bars of 4/4 into stereo audio. The clip
lasts ``bars * 4 * 60 / tempo`` seconds, where ``tempo`` is the one the composer chose (and
reports), and it ends cleanly. The same prompt, length and seed give the same audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from yinzi.engines.separation.base import Block


@dataclass(frozen=True, slots=True)
class MusicRequest:
    prompt: str
    bars: int
    seed: int


@dataclass
class Composition:
    sample_rate: int
    tempo: float
    """Beats per minute of the result."""
    key: str | None
    """E.g. ``"C minor"``, where the composer decides one."""
    blocks: Iterator[Block]
    """Stereo float32 blocks ``(2, n)``; their total length is the clip's."""
    details: dict[str, str] = field(default_factory=dict)
    """What the composer read from the prompt (style, instruments, mood...)."""


class Composer(Protocol):
    name: str

    def compose(self, request: MusicRequest) -> Composition: ...
