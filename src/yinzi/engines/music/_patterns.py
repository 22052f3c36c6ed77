"""Rhythm tables: accompaniment, bass, drum grooves and melody rhythms, one 4/4 bar each.

Times are in beats from the start of the bar. A pattern is a tuple of bars played in turn (the
bossa nova and the jazz comping alternate two bars). Accompaniment steps say which chord tones
sound (``ALL`` or an index into the voicing, low to high); bass steps say which chord tone
(``ROOT``, ``THIRD``, ``FIFTH``, ``OCTAVE``, or ``APPROACH``: the scale step next to the next
chord's root, which walking bass uses to lead into it).

The waltz lives in the 4/4 grid: each beat holds one 3/4 bar ("oom-pah-pah" on its triplets),
so a 4/4 bar holds four waltz bars and its tempo is the waltz's bars per minute (a waltz at
quarter = 168 reports 56 bpm); its melody rhythms are made of the same triplet groups.
"""

from __future__ import annotations

ALL = -1
ROOT, THIRD, FIFTH, OCTAVE, APPROACH = 0, 1, 2, 3, -1

Step = tuple[float, float, int]
"""(start, length, which) in beats."""
Hit = tuple[str, float, float]
"""(drum sound, start, velocity)."""

_T = 1.0 / 3.0


def _every(step: float, length: float, which: int, count: int) -> tuple[Step, ...]:
    return tuple((i * step, length, which) for i in range(count))


COMP: dict[str, tuple[tuple[Step, ...], ...]] = {
    "quarters": (((0, 1, ALL), (1, 1, ALL), (2, 1, ALL), (3, 1, ALL)),),
    "strum": (((0, 1, ALL), (1, 0.5, ALL), (1.5, 1, ALL), (2.5, 0.5, ALL), (3, 1, ALL)),),
    "arpeggio": (tuple((i * 0.5, 2.0, (0, 1, 2, 3, 4, 3, 2, 1)[i]) for i in range(8)),),
    "alberti": (tuple((i * 0.5, 0.5, (0, 2, 1, 2)[i % 4]) for i in range(8)),),
    "bossa": (
        ((0, 1, ALL), (1.5, 1, ALL), (3, 1, ALL)),
        ((0.5, 1, ALL), (2, 1.5, ALL), (3.5, 0.5, ALL)),
    ),
    "charleston": (((0, 1, ALL), (1.5, 1.5, ALL)), ((0.5, 1, ALL), (2, 1, ALL), (3.5, 0.5, ALL))),
    "lofi": (((0, 2.5, ALL), (2.5, 1.5, ALL)),),
    "pad": (((0, 4, ALL),),),
    "funk": (tuple((t, 0.25, ALL) for t in (0, 0.75, 1.5, 2.25, 3, 3.5)),),
    "skank": (((1, 0.4, ALL), (3, 0.4, ALL)),),
    "waltz": (tuple((g + o, _T, ALL) for g in range(4) for o in (_T, 2 * _T)),),
}

BASS: dict[str, tuple[tuple[Step, ...], ...]] = {
    "whole": (((0, 4, ROOT),),),
    "half": (((0, 2, ROOT), (2, 2, FIFTH)),),
    "pop": (((0, 1.5, ROOT), (1.5, 0.5, ROOT), (2, 1, FIFTH), (3, 1, OCTAVE)),),
    "eighths": (_every(0.5, 0.5, ROOT, 8),),
    "bossa": (((0, 1.5, ROOT), (1.5, 0.5, FIFTH), (2, 1.5, FIFTH), (3.5, 0.5, ROOT)),),
    "walk": (((0, 1, ROOT), (1, 1, THIRD), (2, 1, FIFTH), (3, 1, APPROACH)),),
    "offbeat": (tuple((i + 0.5, 0.5, ROOT) for i in range(4)),),
    "funk": (
        (
            (0, 0.5, ROOT),
            (0.75, 0.25, OCTAVE),
            (1.5, 0.5, ROOT),
            (2.5, 0.25, FIFTH),
            (2.75, 0.25, ROOT),
            (3, 0.5, OCTAVE),
        ),
    ),
    "reggae": (
        ((0, 1, ROOT), (1.5, 0.5, THIRD), (2, 1, FIFTH), (3, 0.5, FIFTH), (3.5, 0.5, ROOT)),
    ),
    "waltz": (((0, 1, ROOT), (1, 1, FIFTH), (2, 1, ROOT), (3, 1, FIFTH)),),
}


def _hats(sound: str, step: float, loud: float, soft: float) -> tuple[Hit, ...]:
    count = round(4 / step)
    return tuple((sound, i * step, loud if (i * step) % 1 == 0 else soft) for i in range(count))


GROOVES: dict[str, tuple[tuple[Hit, ...], ...]] = {
    "backbeat": (
        (
            ("kick", 0, 0.9),
            ("kick", 2, 0.8),
            ("kick", 2.5, 0.55),
            ("snare", 1, 0.8),
            ("snare", 3, 0.8),
            *_hats("hat", 0.5, 0.4, 0.28),
        ),
    ),
    "rock": (
        (
            ("kick", 0, 1.0),
            ("kick", 1.5, 0.6),
            ("kick", 2, 0.9),
            ("kick", 2.5, 0.7),
            ("snare", 1, 0.95),
            ("snare", 3, 0.95),
            *_hats("hat", 0.5, 0.5, 0.4),
        ),
    ),
    "bossa": (
        (
            ("kick", 0, 0.6),
            ("kick", 1.5, 0.4),
            ("kick", 2, 0.6),
            ("kick", 3.5, 0.4),
            ("rim", 0, 0.55),
            ("rim", 1.5, 0.55),
            ("rim", 3, 0.55),
            *_hats("shaker", 0.5, 0.4, 0.3),
        ),
        (
            ("kick", 0, 0.6),
            ("kick", 1.5, 0.4),
            ("kick", 2, 0.6),
            ("kick", 3.5, 0.4),
            ("rim", 1, 0.55),
            ("rim", 2.5, 0.55),
            *_hats("shaker", 0.5, 0.4, 0.3),
        ),
    ),
    "swing": (
        (
            ("ride", 0, 0.55),
            ("ride", 1, 0.6),
            ("ride", 1.5, 0.4),
            ("ride", 2, 0.55),
            ("ride", 3, 0.6),
            ("ride", 3.5, 0.4),
            ("hat", 1, 0.45),
            ("hat", 3, 0.45),
            ("kick", 0, 0.35),
            ("kick", 2, 0.3),
        ),
    ),
    "lofi": (
        (
            ("kick", 0, 0.9),
            ("kick", 1.75, 0.45),
            ("kick", 2.5, 0.7),
            ("snare", 1, 0.7),
            ("snare", 3, 0.7),
            *_hats("hat", 0.5, 0.3, 0.22),
        ),
    ),
    "four": (
        (
            ("kick", 0, 1.0),
            ("kick", 1, 1.0),
            ("kick", 2, 1.0),
            ("kick", 3, 1.0),
            ("clap", 1, 0.7),
            ("clap", 3, 0.7),
            *(("open", i + 0.5, 0.35) for i in range(4)),
        ),
    ),
    "funk": (
        (
            ("kick", 0, 0.95),
            ("kick", 0.75, 0.6),
            ("kick", 2.5, 0.8),
            ("snare", 1, 0.85),
            ("snare", 3, 0.85),
            ("snare", 1.75, 0.2),
            ("snare", 3.25, 0.2),
            *_hats("hat", 0.25, 0.35, 0.22),
        ),
    ),
    "onedrop": (
        (("kick", 2, 0.9), ("rim", 2, 0.7), ("kick", 0, 0.5), *_hats("hat", 0.5, 0.32, 0.25)),
    ),
    "waltz": (
        tuple(("kick" if g % 2 == 0 else "rim", g, 0.6) for g in range(4))
        + tuple(("hat", g + o, 0.25) for g in range(4) for o in (_T, 2 * _T)),
    ),
}
FINAL_HITS: tuple[Hit, ...] = (("kick", 0, 0.9), ("crash", 0, 0.6))

MELODY: dict[int, tuple[tuple[tuple[float, float], ...], ...]] = {
    0: (
        ((0, 2), (2, 2)),
        ((0, 3), (3, 1)),
        ((0, 1), (1, 1), (2, 2)),
        ((0, 1.5), (1.5, 0.5), (2, 2)),
        ((0, 2), (2, 1), (3, 1)),
    ),
    1: (
        ((0, 1), (1, 1), (2, 1), (3, 1)),
        ((0, 1.5), (1.5, 0.5), (2, 1), (3, 1)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 2)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 2)),
        ((0.5, 1), (1.5, 1), (2.5, 1.5)),
        ((0, 1), (1.5, 1), (3, 1)),
    ),
    2: (
        ((0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 1), (3, 1)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 0.5), (3, 1)),
        ((0.5, 0.5), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 1)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 0.5), (3.5, 0.5)),
    ),
}
_GROUPS = (((0, 1),), ((0, 2 * _T), (2 * _T, _T)), ((0, _T), (_T, _T), (2 * _T, _T)))
MELODY[3] = tuple(  # waltz: one 3/4 bar per beat, a group of triplets
    tuple((g + s, length) for g, group in enumerate(choice) for s, length in _GROUPS[group])
    for choice in ((1, 0, 1, 0), (2, 1, 0, 0), (1, 1, 2, 0), (0, 1, 0, 0), (2, 0, 1, 0))
)
CADENCE: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0, 1), (1, 3)),
    ((0, 0.5), (0.5, 0.5), (1, 3)),
    ((0, 2), (2, 2)),
    ((0, 4),),
)
