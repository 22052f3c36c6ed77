"""The arranger: a :class:`~._styles.Plan` and a length in bars become notes and drum hits.

Harmony. One chord per bar from a progression of the style, built from the key's scale (triads,
or seventh chords in jazz, bossa nova, lofi and funk). The first and the last bar are the tonic;
the bar before the last ends on the dominant (ii-V or IV-V), so every piece closes on a perfect
cadence. In minor the dominant takes the harmonic minor's leading tone, the one note outside the
natural minor scale; :func:`key_pitch_classes` therefore lists the natural minor plus that tone,
and every note the arranger writes lies in it.

Melody. Four-bar phrases (A B A' cadence): a rhythm per bar from the style's rhythm family, the
A rhythm (and its pitches, where the chord is the same) repeated in the third bar, a long note
to end each phrase, the tonic to end the piece. Pitches walk the scale in small steps and land
on chord tones on strong beats and at phrase ends, within about an octave and a half of the lead
instrument's register. All choices come from one ``random.Random(seed)``, so the same seed gives
the same piece and another seed another melody.

Accompaniment voicings keep close to a target register and to the previous chord (smooth voice
leading). Swing delays off-beat eighths towards the triplet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from yinzi.engines.music import _patterns as pat
from yinzi.engines.music._styles import Plan

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
LEAD_CENTRE = {"flute": 76, "sax": 67, "guitar": 67, "bells": 79, "piano": 72, "strings": 74}
COMP_CENTRE = {"guitar": 57, "piano": 62, "pad": 62, "strings": 64, "bells": 70}


@dataclass(frozen=True)
class Chord:
    start: float
    """Beats from the start of the piece."""
    length: float
    degree: int
    pitch_classes: tuple[int, ...]
    """Absolute pitch classes, root first."""


@dataclass(frozen=True)
class Note:
    start: float
    length: float
    pitch: int
    """MIDI note number."""
    velocity: float


@dataclass(frozen=True)
class DrumHit:
    start: float
    sound: str
    velocity: float


@dataclass
class Part:
    role: str
    """``lead``, ``comp``, ``bass`` or ``pad``."""
    instrument: str
    notes: list[Note] = field(default_factory=list)


@dataclass
class Arrangement:
    plan: Plan
    bars: int
    chords: list[Chord]
    parts: list[Part]
    drums: list[DrumHit]


def key_pitch_classes(tonic: int, mode: str) -> frozenset[int]:
    """The pitch classes of the key: its scale, plus the leading tone in minor."""
    pcs = {(tonic + step) % 12 for step in SCALES[mode]}
    if mode == "minor":
        pcs.add((tonic + 11) % 12)
    return frozenset(pcs)


def arrange(plan: Plan, bars: int, seed: int) -> Arrangement:
    """Every note of a ``bars``-bar piece following ``plan``; deterministic in ``seed``."""
    rng = random.Random(seed)
    chords = _chords(plan, bars, rng)
    parts = [Part("lead", plan.lead, _melody(plan, chords, bars, rng))]
    solo_gain = 0.7 if plan.solo else 1.0
    if plan.comp is not None:
        notes = _comp(plan, chords, bars, plan.comp, plan.comp_pattern, solo_gain)
        parts.append(Part("comp", plan.comp, notes))
    if plan.pad is not None:
        parts.append(Part("pad", plan.pad, _comp(plan, chords, bars, plan.pad, "pad", 0.55)))
    if plan.bass is not None:
        parts.append(Part("bass", plan.bass, _bass(plan, chords, bars, solo_gain)))
    drums = _drums(plan.drums, bars, plan.style.swing) if plan.drums else []
    return Arrangement(plan, bars, chords, [_swung(p, plan.style.swing) for p in parts], drums)


def _scale_pc(plan: Plan, degree: int, dominant: bool = False) -> int:
    """Pitch class of a scale degree; in minor, over the dominant, the leading tone."""
    step = SCALES[plan.mode][degree % 7]
    if dominant and plan.mode == "minor" and degree % 7 == 6:
        step = 11
    return (plan.tonic + step) % 12


def _chord_pcs(plan: Plan, degree: int) -> tuple[int, ...]:
    # A plain tonic triad, and always a dominant seventh: its seventh (the scale's fourth)
    # tells the key from the dominant's own key.
    count = 4 if (plan.style.sevenths and degree % 7) or degree % 7 == 4 else 3
    dominant = degree % 7 == 4
    return tuple(_scale_pc(plan, degree + 2 * i, dominant) for i in range(count))


def _chords(plan: Plan, bars: int, rng: random.Random) -> list[Chord]:
    progression = rng.choice(plan.style.major if plan.mode == "major" else plan.style.minor)
    spans = [[(0.0, progression[i % len(progression)])] for i in range(bars)]
    spans[0] = [(0.0, 0)]
    if bars == 2:
        spans[0] = [(0.0, 0), (2.0, 4)]
    elif bars >= 3:
        spans[-2] = [(0.0, 1 if plan.style.sevenths else 3), (2.0, 4)]
    spans[-1] = [(0.0, 0)]
    chords = []
    for bar, bar_spans in enumerate(spans):
        for i, (start, degree) in enumerate(bar_spans):
            end = bar_spans[i + 1][0] if i + 1 < len(bar_spans) else 4.0
            chords.append(Chord(bar * 4 + start, end - start, degree, _chord_pcs(plan, degree)))
    return chords


def _chord_at(chords: list[Chord], beat: float) -> Chord:
    return next((c for c in reversed(chords) if c.start <= beat + 1e-6), chords[0])


def _melody(plan: Plan, chords: list[Chord], bars: int, rng: random.Random) -> list[Note]:
    family = plan.style.density
    rhythms = pat.MELODY[family if family == 3 else min(2, family + (plan.mood == "energetic"))]
    centre = LEAD_CENTRE.get(plan.lead, 72)
    base = centre - (centre - plan.tonic) % 12  # the tonic at or below the centre
    degree = rng.choice((0, 2, 4))
    loud = {"energetic": 0.1, "calm": -0.08, "sad": -0.05}.get(plan.mood, 0.0)
    notes: list[Note] = []
    phrase_a: list[tuple[float, float, int]] = []
    rhythm_a, rhythm_b = rng.choice(rhythms), rng.choice(rhythms)
    for bar in range(bars):
        place = bar % 4
        if bar == bars - 1:
            rhythm: tuple[tuple[float, float], ...] = ((0, 4),)
        elif place == 3:
            rhythm = rng.choice(pat.CADENCE if family != 3 else rhythms)
        else:
            if place == 0 and bar > 0:
                rhythm_a, rhythm_b = rng.choice(rhythms), rng.choice(rhythms)
            rhythm = rhythm_b if place == 1 else rhythm_a
        same = (
            place == 2
            and _chord_at(chords, bar * 4).degree == _chord_at(chords, bar * 4 - 8).degree
        )
        repeat = phrase_a if same and len(phrase_a) == len(rhythm) else None
        bar_notes = []
        for i, (start, length) in enumerate(rhythm):
            beat = bar * 4 + start
            chord = _chord_at(chords, beat)
            last_in_bar = i == len(rhythm) - 1
            if bar == bars - 1:
                degree = 7 if degree > 3 else 0
            elif repeat is not None:
                degree = repeat[i][2]
            else:
                strong = start in (0, 2) or length >= 1.5 or (place == 3 and last_in_bar)
                degree = _next_degree(degree, chord, plan, strong, rng)
            bar_notes.append((start, length, degree))
            pitch = (
                base
                + 12 * (degree // 7)
                + (_scale_pc(plan, degree, chord.degree == 4) - plan.tonic) % 12
            )
            accent = 0.85 if start % 2 == 0 else 0.72
            velocity = min(1.0, max(0.3, accent + loud + rng.uniform(-0.05, 0.05)))
            notes.append(Note(beat, length, pitch, velocity))
        if place == 0:
            phrase_a = bar_notes
    return notes


def _next_degree(degree: int, chord: Chord, plan: Plan, strong: bool, rng: random.Random) -> int:
    """A small step from ``degree``; on a strong beat, the nearest chord tone to that step."""
    step = rng.choice((-2, -1, -1, 1, 1, 2, 0, 3, -3))
    target = degree + step
    if target < -3 or target > 10:
        target = degree - step
    if not strong:
        return target
    tones = {(chord.degree + 2 * i) % 7 for i in range(3)}
    candidates = [d for d in range(target - 3, target + 4) if d % 7 in tones and -3 <= d <= 10]
    # Prefer the tonic triad's notes where the chord has them: the melody confirms the key.
    return min(
        candidates, key=lambda d: (abs(d - target) - 0.6 * (d % 7 in (0, 2, 4)), rng.random())
    )


def _voicing(pcs: tuple[int, ...], centre: int, previous: float | None) -> list[int]:
    """The inversion of ``pcs`` nearest ``centre`` and the previous voicing, low to high."""
    best: tuple[float, list[int]] | None = None
    for rotation in range(len(pcs)):
        order = pcs[rotation:] + pcs[:rotation]
        low = centre - 7 + (order[0] - (centre - 7)) % 12
        notes = [low]
        for pc in order[1:]:
            notes.append(notes[-1] + (pc - notes[-1]) % 12)
        mean = sum(notes) / len(notes)
        cost = abs(mean - centre) + (0.5 * abs(mean - previous) if previous is not None else 0)
        if best is None or cost < best[0]:
            best = (cost, notes)
    assert best is not None
    return best[1]


def _comp(
    plan: Plan, chords: list[Chord], bars: int, instrument: str, pattern: str, gain: float
) -> list[Note]:
    centre = COMP_CENTRE.get(instrument, 64) - (5 if plan.solo else 0)
    bar_patterns = pat.COMP[pattern]
    strum = 0.012 * plan.tempo / 60 if instrument == "guitar" else 0.0
    notes: list[Note] = []
    previous: float | None = None
    for chord in chords:
        voicing = _voicing(chord.pitch_classes, centre, previous)
        previous = sum(voicing) / len(voicing)
        bar = int(chord.start // 4)
        steps = bar_patterns[bar % len(bar_patterns)]
        if bar == bars - 1:
            steps = ((0.0, 4.0, pat.ALL),)
        for start, length, which in steps:
            beat = bar * 4 + start
            if not chord.start <= beat < chord.start + chord.length - 1e-6:
                continue
            length = min(length, chord.start + chord.length - beat + (0.5 if length > 1 else 0))
            velocity = (0.62 if start % 1 == 0 else 0.55) * gain
            if which == pat.ALL:
                for i, pitch in enumerate(voicing):
                    notes.append(Note(beat + i * strum, length, pitch, velocity))
            else:
                extended = voicing + [p + 12 for p in voicing]
                notes.append(Note(beat, length, extended[which % len(extended)], velocity))
    return notes


def _bass(plan: Plan, chords: list[Chord], bars: int, gain: float) -> list[Note]:
    steps_by_bar = pat.BASS[plan.style.bass_pattern]
    low = 38 if plan.bass == "bass" else 40  # a bass guitar from D2; a guitar's low E
    notes: list[Note] = []
    for index, chord in enumerate(chords):
        root = low + (chord.pitch_classes[0] - low) % 12
        bar = int(chord.start // 4)
        steps = steps_by_bar[bar % len(steps_by_bar)]
        if bar == bars - 1:
            steps = ((0.0, 4.0, pat.ROOT),)
        following = chords[index + 1] if index + 1 < len(chords) else chords[0]
        for start, length, which in steps:
            beat = bar * 4 + start
            if not chord.start <= beat < chord.start + chord.length - 1e-6:
                continue
            if which == pat.APPROACH:
                pitch = _approach(plan, root, following)
            elif which == pat.OCTAVE:
                pitch = root + 12
            else:
                pitch = root + (chord.pitch_classes[which] - root) % 12
            velocity = (0.8 if start % 1 == 0 else 0.68) * gain
            notes.append(
                Note(beat, min(length, chord.start + chord.length - beat), pitch, velocity)
            )
    return notes


def _approach(plan: Plan, root: int, following: Chord) -> int:
    """The scale tone a step from the next chord's root, nearest the current root."""
    options = []
    for step in (-1, 1):
        pc = _scale_pc(plan, following.degree + step, following.degree == 4)
        options.append(root + (pc - root) % 12)
        options.append(root + (pc - root) % 12 - 12)
    return min(options, key=lambda p: abs(p - root - 5))


def _drums(groove: str, bars: int, swing: float) -> list[DrumHit]:
    patterns = pat.GROOVES[groove]
    hits = []
    for bar in range(bars):
        steps = pat.FINAL_HITS if bar == bars - 1 and bars > 1 else patterns[bar % len(patterns)]
        for sound, start, velocity in steps:
            delay = swing / 6 if start % 1 == 0.5 else 0.0
            hits.append(DrumHit(bar * 4 + start + delay, sound, velocity))
    return hits


def _swung(part: Part, swing: float) -> Part:
    if swing == 0:
        return part
    notes = [
        Note(n.start + swing / 6, n.length, n.pitch, n.velocity) if n.start % 1 == 0.5 else n
        for n in part.notes
    ]
    return Part(part.role, part.instrument, notes)
