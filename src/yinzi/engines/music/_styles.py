"""Styles, and turning a prompt's :class:`~._prompt.Brief` into a complete :class:`Plan`.

A style is a small table row: default tempo and mode, which instrument leads and which
accompanies, the accompaniment, bass and drum patterns (named; ``_arranger`` knows how to play
each), the swing, the chord progressions it draws from (scale degrees, one chord per bar) and
how busy its melody is. Whatever the prompt leaves open comes from the style, the mood and the
seed: an unnamed tonic is drawn from common keys, so a prompt naming nothing is still a complete,
pleasant piece (a gentle pop song).

Solo. "solo" keeps the lead instrument alone: a polyphonic lead (guitar, piano...) accompanies
itself (chords and a bass line in its own voice); a melodic lead (flute, sax...) gets a quiet pad
underneath so the harmony stays audible. No drums, no separate bass.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from yinzi.engines.music._prompt import TEMPO_RANGE, Brief

POLYPHONIC = frozenset({"guitar", "piano", "epiano", "organ", "bells", "synth", "strings"})
MELODIC = ("flute", "sax", "guitar", "piano", "strings", "synth", "organ", "bells", "epiano")
"""Instruments that can lead, in order of preference when several are named."""
COMMON_TONICS = {"major": (0, 2, 3, 5, 7, 9, 10), "minor": (9, 2, 4, 0, 7, 5)}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

Progression = tuple[int, ...]
"""Scale degrees (0 = tonic), one chord per bar."""

# Tonic- and dominant-centred on purpose: the key should be unmistakable within a few bars.
_POP_MAJOR: tuple[Progression, ...] = ((0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 0, 4), (0, 4, 3, 4))
_POP_MINOR: tuple[Progression, ...] = ((0, 5, 3, 4), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 0, 4))
_JAZZ_MAJOR: tuple[Progression, ...] = ((0, 5, 1, 4), (0, 0, 1, 4), (0, 3, 0, 4), (0, 2, 1, 4))
_JAZZ_MINOR: tuple[Progression, ...] = ((0, 3, 1, 4), (0, 5, 1, 4), (0, 0, 3, 4))


@dataclass(frozen=True)
class Style:
    name: str
    tempo: float
    mode: str
    lead: str
    comp: str
    comp_pattern: str
    bass_pattern: str
    drums: str | None
    """Groove name, or ``None`` for no drums unless the prompt names them."""
    pad: str | None = None
    swing: float = 0.0
    """0 = straight eighths, 1 = triplet swing."""
    density: int = 1
    """Melody rhythm family: 0 sparse, 1 medium, 2 busy, 3 waltz (triplet groups)."""
    sevenths: bool = False
    major: tuple[Progression, ...] = _POP_MAJOR
    minor: tuple[Progression, ...] = _POP_MINOR


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("pop", 104, "major", "synth", "piano", "quarters", "pop", "backbeat"),
        Style("rock", 124, "major", "guitar", "guitar", "strum", "eighths", "rock", density=1),
        Style("ballad", 72, "major", "piano", "piano", "arpeggio", "whole", None, "strings",
              density=0),
        Style("jazz", 132, "major", "sax", "piano", "charleston", "walk", "swing", None, 1.0, 2,
              True, _JAZZ_MAJOR, _JAZZ_MINOR),
        Style("bossa", 128, "minor", "flute", "guitar", "bossa", "bossa", "bossa", None, 0.0, 1,
              True, _JAZZ_MAJOR, _JAZZ_MINOR),
        Style("lofi", 82, "minor", "epiano", "piano", "lofi", "half", "lofi", None, 0.6, 1, True),
        Style("edm", 126, "minor", "synth", "pad", "pad", "offbeat", "four", None, 0.0, 2),
        Style("classical", 96, "major", "strings", "piano", "alberti", "half", None, None, 0.0, 1),
        Style("folk", 100, "major", "flute", "guitar", "strum", "half", None, None, 0.0, 1),
        Style("funk", 108, "minor", "sax", "guitar", "funk", "funk", "funk", None, 0.0, 2, True),
        Style("reggae", 84, "major", "organ", "guitar", "skank", "reggae", "onedrop"),
        Style("waltz", 56, "major", "strings", "piano", "waltz", "waltz", None, None, 0.0, 3),
        Style("ambient", 70, "major", "bells", "pad", "pad", "whole", None, "strings", 0.0, 0),
    )
}  # fmt: skip
FALLBACK_GROOVE = {"ballad": "backbeat", "classical": "backbeat", "folk": "backbeat",
                   "waltz": "waltz", "ambient": "backbeat"}  # fmt: skip
MOOD_TEMPO = {"calm": 0.88, "sad": 0.9, "happy": 1.06, "energetic": 1.15}


@dataclass(frozen=True)
class Plan:
    """Every musical decision the arranger needs."""

    style: Style
    tonic: int
    mode: str
    tempo: float
    mood: str
    lead: str
    comp: str | None
    comp_pattern: str
    bass: str | None
    """Instrument playing the bass line (``"bass"``, or the lead in a solo)."""
    pad: str | None
    drums: str | None
    solo: bool

    @property
    def key(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"

    @property
    def instruments(self) -> tuple[str, ...]:
        named = (self.lead, self.comp, self.bass, self.pad, "drums" if self.drums else None)
        return tuple(dict.fromkeys(n for n in named if n is not None))


def make_plan(brief: Brief, seed: int) -> Plan:
    """Fill in what ``brief`` leaves open from its style, its mood and ``seed``."""
    rng = random.Random(seed)
    style = STYLES[brief.style or _default_style(brief)]
    mood = brief.mood or ("calm" if style.name in ("ballad", "ambient", "lofi") else "happy")
    mode = brief.mode or {"sad": "minor", "happy": "major"}.get(mood, style.mode)
    tonic = brief.tonic if brief.tonic is not None else rng.choice(COMMON_TONICS[mode])
    tempo = brief.bpm or round(style.tempo * brief.tempo_scale * MOOD_TEMPO.get(mood, 1.0))
    tempo = min(max(float(tempo), TEMPO_RANGE[0]), TEMPO_RANGE[1])
    melodic = [i for i in brief.instruments if i in MELODIC]
    lead = sorted(melodic, key=MELODIC.index)[0] if melodic else style.lead
    if brief.solo:
        alone = lead in POLYPHONIC
        return Plan(style, tonic, mode, tempo, mood, lead, lead if alone else None,
                    style.comp_pattern if alone else "pad", lead if alone else None,
                    None if alone else "pad", None, True)  # fmt: skip
    others = [i for i in melodic if i != lead]
    comp = others[0] if others else style.comp
    pattern = "pad" if comp in ("pad", "strings") else style.comp_pattern
    drums = style.drums
    if drums is None and "drums" in brief.instruments:
        drums = FALLBACK_GROOVE.get(style.name, "backbeat")
    if "drums" in brief.excluded:
        drums = None
    pad = style.pad if style.pad not in (lead, comp) else None
    bass = None if "bass" in brief.excluded else "bass"
    return Plan(style, tonic, mode, tempo, mood, lead, comp, pattern, bass, pad, drums, False)


def _default_style(brief: Brief) -> str:
    if brief.mood == "calm" or brief.tempo_scale < 1.0:
        return "ballad"
    if brief.mood == "energetic":
        return "rock"
    return "pop"
