"""Reading a music prompt: what it asks for, word by word, ignoring what it does not know.

A prompt is short English ("guitar solo bossa nova C minor", "slow sad piano in F sharp",
"energetic edm 128 bpm"). It is lower-cased and split into words; multi-word names ("bossa
nova", "electric piano", "hip hop") are joined first. Each word is looked up in small tables of
synonyms for instruments, styles, moods and tempo words; anything else is ignored.

Keys. A note letter counts as a key only where it cannot be the article "a": when a mode word
follows it (after an optional "sharp"/"flat"), when "in"/"key"/"of" precedes it, or, for
``b``-``g``, anywhere as a lone letter. "minor"/"major" alone set the mode without a tonic.

Tempo. ``NNN bpm`` (digits arrive through the JSON APIs) or number words ("one hundred twenty
bpm") give an explicit tempo, clamped to 40-220; otherwise words such as "slow" or "fast" scale
the style's default. "no drums" / "without bass" remove a part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOTE_CLASSES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
MODES = {"major": "major", "maj": "major", "minor": "minor", "min": "minor"}
ACCIDENTALS = {"sharp": 1, "flat": -1}

PHRASES = {
    "bossa nova": "bossa",
    "hip hop": "hiphop",
    "lo fi": "lofi",
    "electric piano": "epiano",
    "music box": "bells",
    "acoustic guitar": "guitar",
    "electric guitar": "guitar",
    "double bass": "bass",
    "upright bass": "bass",
    "drum kit": "drums",
}

INSTRUMENTS = {
    "guitar": "guitar", "guitars": "guitar", "nylon": "guitar", "ukulele": "guitar",
    "piano": "piano", "pianos": "piano",
    "epiano": "epiano", "rhodes": "epiano", "keys": "epiano",
    "strings": "strings", "string": "strings", "violin": "strings", "violins": "strings",
    "cello": "strings", "viola": "strings", "orchestra": "strings", "orchestral": "strings",
    "bass": "bass", "basses": "bass",
    "drums": "drums", "drum": "drums", "percussion": "drums", "beat": "drums", "beats": "drums",
    "synth": "synth", "synths": "synth", "synthesizer": "synth", "synthesiser": "synth",
    "flute": "flute", "flutes": "flute", "whistle": "flute",
    "sax": "sax", "saxophone": "sax", "saxophones": "sax", "clarinet": "sax",
    "organ": "organ", "accordion": "organ", "harmonica": "organ",
    "bells": "bells", "bell": "bells", "glockenspiel": "bells", "celesta": "bells",
    "marimba": "bells", "vibraphone": "bells", "harp": "bells",
    "pad": "pad", "pads": "pad",
}  # fmt: skip

STYLES = {
    "bossa": "bossa", "bossanova": "bossa", "samba": "bossa", "latin": "bossa",
    "jazz": "jazz", "jazzy": "jazz", "swing": "jazz", "bebop": "jazz", "blues": "jazz",
    "pop": "pop", "rock": "rock", "punk": "rock", "metal": "rock",
    "ballad": "ballad", "love": "ballad", "romantic": "ballad",
    "lofi": "lofi", "hiphop": "lofi", "chillhop": "lofi", "rap": "lofi",
    "edm": "edm", "house": "edm", "techno": "edm", "dance": "edm", "trance": "edm",
    "electronic": "edm", "disco": "funk",
    "classical": "classical", "baroque": "classical", "symphony": "classical",
    "folk": "folk", "country": "folk", "acoustic": "folk",
    "funk": "funk", "funky": "funk", "soul": "funk",
    "reggae": "reggae", "ska": "reggae", "dub": "reggae",
    "waltz": "waltz",
    "ambient": "ambient", "meditation": "ambient", "cinematic": "ambient",
}  # fmt: skip

MOODS = {
    "calm": "calm", "relaxing": "calm", "relaxed": "calm", "peaceful": "calm",
    "chill": "calm", "gentle": "calm", "soft": "calm", "dreamy": "calm", "quiet": "calm",
    "happy": "happy", "joyful": "happy", "cheerful": "happy", "bright": "happy",
    "sunny": "happy", "fun": "happy", "playful": "happy",
    "sad": "sad", "melancholy": "sad", "melancholic": "sad", "dark": "sad",
    "gloomy": "sad", "somber": "sad", "sombre": "sad", "lonely": "sad",
    "energetic": "energetic", "exciting": "energetic", "powerful": "energetic",
    "intense": "energetic", "epic": "energetic", "driving": "energetic",
}  # fmt: skip

TEMPO_WORDS = {
    "slow": 0.75, "slowly": 0.75, "lazy": 0.8, "relaxed": 0.9, "moderate": 1.0,
    "medium": 1.0, "fast": 1.3, "quick": 1.3, "upbeat": 1.2, "uptempo": 1.25, "rapid": 1.4,
}  # fmt: skip

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip

TEMPO_RANGE = (40.0, 220.0)


@dataclass(frozen=True)
class Brief:
    """What the prompt names; ``None`` / empty where it names nothing."""

    instruments: tuple[str, ...] = ()
    """Named instruments in the order they appear (``drums`` and ``bass`` included)."""
    excluded: tuple[str, ...] = ()
    """Instruments the prompt asks to leave out ("no drums")."""
    style: str | None = None
    tonic: int | None = None
    """Pitch class 0-11 (C = 0)."""
    mode: str | None = None
    """``"major"`` or ``"minor"``."""
    bpm: float | None = None
    tempo_scale: float = 1.0
    """Product of tempo words ("slow" = 0.75); applies when no ``bpm`` is given."""
    mood: str | None = None
    solo: bool = False


def parse_prompt(prompt: str) -> Brief:
    """Read ``prompt`` into a :class:`Brief`."""
    text = " " + " ".join(re.findall(r"[a-z0-9#]+", prompt.lower())) + " "
    for phrase, word in PHRASES.items():
        text = text.replace(f" {phrase} ", f" {word} ")
    words = text.split()
    tonic, mode = _key(words)
    named = [INSTRUMENTS[w] for w in words if w in INSTRUMENTS]
    excluded = tuple(
        INSTRUMENTS[w] for i, w in enumerate(words) if w in INSTRUMENTS and _negated(words, i)
    )
    scale = 1.0
    for w in words:
        scale *= TEMPO_WORDS.get(w, 1.0)
    return Brief(
        instruments=tuple(dict.fromkeys(n for n in named if n not in excluded)),
        excluded=excluded,
        style=next((STYLES[w] for w in words if w in STYLES), None),
        tonic=tonic,
        mode=mode,
        bpm=_bpm(words),
        tempo_scale=scale,
        mood=next((MOODS[w] for w in words if w in MOODS), None),
        solo="solo" in words or "alone" in words,
    )


def _negated(words: list[str], index: int) -> bool:
    return index > 0 and words[index - 1] in ("no", "without")


def _key(words: list[str]) -> tuple[int | None, str | None]:
    """The first key the words name, as (tonic pitch class, mode)."""
    for i, word in enumerate(words):
        letter, accidental = _note(word)
        if letter is None:
            continue
        j = i + 1
        if accidental == 0 and j < len(words) and words[j] in ACCIDENTALS:
            accidental = ACCIDENTALS[words[j]]
            j += 1
        mode = MODES.get(words[j]) if j < len(words) else None
        if word.endswith("m") and len(word) == 2 and word != "am":
            mode = "minor"  # "cm", "fm" (but "am" is a word)
        introduced = i > 0 and words[i - 1] in ("in", "key", "of")
        lone = letter != "a" and len(word) == 1
        if mode is not None or introduced or lone or accidental != 0:
            return (NOTE_CLASSES[letter] + accidental) % 12, mode
    mode = next((MODES[w] for w in words if w in MODES), None)
    return None, mode


def _note(word: str) -> tuple[str | None, int]:
    """A note letter and accidental in ``word`` ("c", "f#", "cm"), else ``(None, 0)``."""
    if not word or word[0] not in NOTE_CLASSES:
        return None, 0
    rest = word[1:]
    if rest in ("", "m"):
        return word[0], 0
    if rest in ("#", "#m"):
        return word[0], 1
    return None, 0


def _bpm(words: list[str]) -> float | None:
    for i, word in enumerate(words):
        if word != "bpm" or i == 0:
            continue
        value = int(words[i - 1]) if words[i - 1].isdigit() else _number_before(words, i)
        if value:
            return min(max(float(value), TEMPO_RANGE[0]), TEMPO_RANGE[1])
    return None


def _number_before(words: list[str], end: int) -> int:
    """The value of the number words just before ``words[end]`` ("one hundred twenty")."""
    start = end
    while start > 0 and (words[start - 1] in NUMBER_WORDS or words[start - 1] == "hundred"):
        start -= 1
    total = 0
    for word in words[start:end]:
        if word == "hundred":
            total = max(total, 1) * 100
        else:
            total += NUMBER_WORDS[word]
    return total
