"""``music.procedural``: a weight-free composer and synthesizer (numpy and scipy only).

Method, in four steps, each in its own private module:

1. ``_prompt`` reads the prompt: instruments, style, key and mode, tempo (``NNN bpm``, number
   words, or words like "slow"), mood, "solo"; unknown words are ignored.
2. ``_styles`` fills in what the prompt leaves open (style defaults, mood, a tonic drawn from the
   seed) and decides the parts: lead, accompaniment, pad, bass, drums.
3. ``_arranger`` writes the notes: a progression in the key that starts on the tonic and closes
   with a dominant-tonic cadence, a phrased melody on the scale, the style's accompaniment, bass
   line and groove (``_patterns``).
4. ``_mixer`` renders them with the synthesized instruments of ``_voices``, adds reverb, fades
   the end, normalises to -14 LUFS (``_loudness``) and limits the peaks.

Contract. The clip lasts exactly ``round(bars * 4 * 60 / tempo * 44100)`` samples of stereo
float32, yielded bar by bar. Everything random comes from the request's seed: the same request
gives identical audio, another seed another melody (and, where the prompt names no key, maybe
another key). Rendering takes a few percent of the clip's duration on one core.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from yinzi.engines.music._arranger import Arrangement, arrange
from yinzi.engines.music._mixer import clip_samples, render
from yinzi.engines.music._prompt import parse_prompt
from yinzi.engines.music._styles import make_plan
from yinzi.engines.music.base import Composition, MusicRequest
from yinzi.engines.separation.base import Block


class ProceduralComposer:
    """Composes and renders a short piece in the style, key and tempo a prompt asks for."""

    name = "music.procedural"
    sample_rate = 44100

    def arrangement(self, request: MusicRequest) -> Arrangement:
        """The notes and drum hits the request would be rendered from."""
        if request.bars < 1:
            raise ValueError(f"a piece needs at least one bar, got {request.bars}")
        plan = make_plan(parse_prompt(request.prompt), request.seed)
        return arrange(plan, request.bars, request.seed)

    def compose(self, request: MusicRequest) -> Composition:
        arrangement = self.arrangement(request)
        plan = arrangement.plan
        audio = render(arrangement, self.sample_rate, request.seed)
        details = {
            "style": plan.style.name,
            "instruments": ", ".join(plan.instruments),
            "lead": plan.lead,
            "mood": plan.mood,
            "solo": "yes" if plan.solo else "no",
        }
        return Composition(
            sample_rate=self.sample_rate,
            tempo=plan.tempo,
            key=plan.key,
            blocks=_bars(audio, request.bars, plan.tempo, self.sample_rate),
            details=details,
        )


def _bars(audio: npt.NDArray[np.float32], bars: int, tempo: float, rate: int) -> Iterator[Block]:
    """``audio`` cut at the bar lines."""
    for bar in range(bars):
        start, end = clip_samples(bar, tempo, rate), clip_samples(bar + 1, tempo, rate)
        yield np.ascontiguousarray(audio[:, start:end])
