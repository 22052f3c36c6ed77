"""Kie's stem names (``type: "split_stem_advanced"``) and the engine stem each one is cut from.

Kie's clients ask for one instrument by name ("Kick", "Lead Vocal", "String Section"...). Our
engines make a few broad stems, so each name maps to the one stem that holds that instrument, and
its result goes into the Kie field of the name's group (``drumsUrl``, ``percussionUrl``,
``stringsUrl``...). The mapping is honest in one direction only: the stem returned contains the
instrument asked for, together with whatever else shares that stem (a "Kick" is the whole drum
stem; a "Violin" is the "other" stem, strings, synths, brass and all).

- ``vocals``: every singing voice; ``drums``: the kit and unpitched percussion; ``bass``: the
  instruments that play the bass line; ``other``: the remaining pitched instruments.
- ``guitar`` and ``piano`` are their own stems only in six-stem engines (Demucs
  ``htdemucs_6s``); with four stems they are mixed into ``other`` alongside everything else, so
  those names are refused rather than answered with a stem that is not a guitar or piano.
- A few of Kie's names sit between two stems in every engine (an orchestra, a drone, a
  synthesised voice) and are refused with the reason.

Matching ignores case, spaces, hyphens and underscores, and knows common synonyms
(``"drums"``, ``"hihat"``, ``"Keys"``, ``"strings"``...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yinzi.engines import registry
from yinzi.errors import ValidationFailed
from yinzi.settings import Settings

ORDER_TYPE = "split_stem_advanced"
REST = "accompaniment"
"""Business name of the second result: the mixture minus the chosen stem."""


@dataclass(frozen=True)
class StemName:
    name: str
    """Kie's spelling."""
    stem: str
    """The engine stem that holds it."""
    business: str
    """The result's business name, which decides its Kie field (``percussion``: percussionUrl)."""


def _group(stem: str, business: str, names: str) -> tuple[StemName, ...]:
    return tuple(StemName(name.strip(), stem, business) for name in names.split(","))


CATALOGUE: tuple[StemName, ...] = (
    *_group("vocals", "vocals", "Lead Vocal, Choir"),
    *_group("vocals", "backing_vocals", "Backing Vocals"),
    *_group("drums", "drums", "Drum Kit, Electronic Drum Kit, Kick, Snare, Hi-Hat, Cymbals, Toms"),
    *_group(
        "drums",
        "percussion",
        "Percussion, Tambourine, Shaker, Hand Clap, Congas, Bongos, Cowbell, Djembe, Tabla, "
        "Taiko, Timpani",
    ),
    *_group(
        "bass",
        "bass",
        "Bass, Electric Bass, Bass Guitar, Synth Bass, Upright Bass, Double Bass, 808",
    ),
    *_group(
        "guitar",
        "guitar",
        "Guitar, Electric Guitar, Acoustic Guitar, Lead Guitar, Lead Electric Guitar, "
        "Rhythm Electric Guitar, Distorted Electric Guitar, Rhythm Acoustic Guitar, "
        "Pedal Steel Guitar, Lap Steel Guitar, Banjo, Mandolin, Ukulele",
    ),
    *_group("piano", "piano", "Piano, Electric Piano, Digital Piano, Rhodes"),
    *_group("other", "keyboard", "Keyboards, Organ, Harpsichord, Celesta, Accordion"),
    *_group("other", "strings", "String Section, Violin, Viola, Cello, Fiddle, Harp, Sitar, Koto"),
    *_group("other", "brass", "Brass Section, Horns, Trumpet, Trombone, French Horn, Tuba"),
    *_group(
        "other",
        "woodwinds",
        "Woodwinds, Flute, Piccolo, Clarinet, Oboe, Bassoon, Saxophone, Alto Saxophone, "
        "Tenor Saxophone, Baritone Saxophone, Harmonica, Melodica, Bagpipes",
    ),
    *_group(
        "other",
        "synth",
        "Synth, Synth Pad, Synth Lead, Synth Keys, Synth Strings, Synth Brass, Arpeggiator, "
        "Theremin",
    ),
    *_group(
        "other",
        "percussion",
        "Marimba, Vibraphone, Xylophone, Glockenspiel, Bells, Steel Drums, Music Box",
    ),
    *_group("other", "fx", "Sound Effects, Risers"),
)
"""Every name accepted, grouped by stem and Kie field; all Kie's names but those in REFUSED,
plus "Toms"."""

REFUSED: dict[str, str] = {
    "Orchestra": "an orchestra spans the strings, brass, woodwinds, percussion and bass",
    "Synth Voice": "a synthesised voice falls between the vocals and the other stem",
    "Whistle": "a whistle falls between the vocals and the other stem",
    "Drone": "a drone falls between the bass and the other stem",
    "Didgeridoo": "a didgeridoo falls between the bass and the other stem",
}
"""Kie's names that no engine isolates, each with the reason."""

SYNONYMS: dict[str, str] = {
    "Vocals": "Lead Vocal",
    "Vocal": "Lead Vocal",
    "Lead Vocals": "Lead Vocal",
    "Voice": "Lead Vocal",
    "Backing Vocal": "Backing Vocals",
    "Background Vocals": "Backing Vocals",
    "Harmony": "Backing Vocals",
    "Harmonies": "Backing Vocals",
    "Choirs": "Choir",
    "Drums": "Drum Kit",
    "Drum": "Drum Kit",
    "Electronic Drums": "Electronic Drum Kit",
    "Drum Machine": "Electronic Drum Kit",
    "Kick Drum": "Kick",
    "Bass Drum": "Kick",
    "Snare Drum": "Snare",
    "Hats": "Hi-Hat",
    "Hi-Hats": "Hi-Hat",
    "Cymbal": "Cymbals",
    "Tom": "Toms",
    "Percussions": "Percussion",
    "Clap": "Hand Clap",
    "Claps": "Hand Clap",
    "Hand Claps": "Hand Clap",
    "Conga": "Congas",
    "Bongo": "Bongos",
    "Sub Bass": "Synth Bass",
    "Acoustic Bass": "Upright Bass",
    "Contrabass": "Double Bass",
    "Guitars": "Guitar",
    "Grand Piano": "Piano",
    "Acoustic Piano": "Piano",
    "E-Piano": "Electric Piano",
    "Fender Rhodes": "Rhodes",
    "Keyboard": "Keyboards",
    "Keys": "Keyboards",
    "Strings": "String Section",
    "String": "String Section",
    "Violins": "Violin",
    "Brass": "Brass Section",
    "Horn": "French Horn",
    "Woodwind": "Woodwinds",
    "Winds": "Woodwinds",
    "Sax": "Saxophone",
    "Synthesizer": "Synth",
    "Synths": "Synth",
    "Pad": "Synth Pad",
    "Lead Synth": "Synth Lead",
    "Arp": "Arpeggiator",
    "Vibes": "Vibraphone",
    "Glock": "Glockenspiel",
    "Steel Pan": "Steel Drums",
    "Pedal Steel": "Pedal Steel Guitar",
    "Lap Steel": "Lap Steel Guitar",
    "FX": "Sound Effects",
    "SFX": "Sound Effects",
    "Effects": "Sound Effects",
    "Riser": "Risers",
}
"""Other spellings a client may send, each to a name in CATALOGUE."""

SIX_STEM_HINT = (
    "a six-stem engine makes one: YINZI_STEM_ENGINE=separation.demucs with "
    "YINZI_DEMUCS__MODEL=htdemucs_6s"
)


def normalize(text: str) -> str:
    """``text`` lower-cased, without spaces, hyphens or underscores: "Hi-Hat" → "hihat"."""
    return re.sub(r"[\s_-]+", "", text).lower()


_BY_KEY: dict[str, StemName] = {normalize(item.name): item for item in CATALOGUE}
_BY_KEY |= {normalize(alias): _BY_KEY[normalize(name)] for alias, name in SYNONYMS.items()}
_REFUSED_BY_KEY = {normalize(name): (name, why) for name, why in REFUSED.items()}


def find(text: str) -> StemName | None:
    """The catalogue's entry for ``text`` (any case, spacing or synonym), or None."""
    return _BY_KEY.get(normalize(text))


def engine_stems(settings: Settings) -> tuple[str, ...] | None:
    """The stems the configured stem engine makes (``auto`` resolved as a worker would), or None
    when only loading the engine would tell (a Demucs model outside the published set)."""
    name, _ = registry.choose("separation", settings.stem_engine, settings.engine_options)
    return registry.stems(name, settings.engine_options(name))


def resolve(settings: Settings, value: str | None, field: str = "stemName") -> StemName:
    """The entry for a client's ``stemName``, checked against the configured stem engine.

    Refused with ValidationFailed (naming ``field`` and listing the accepted names) when it is
    missing, unknown, one no engine isolates, or one this engine's stems cannot give.
    """
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"{field} is required for {ORDER_TYPE}")
    stems = engine_stems(settings)
    item = find(text)
    if item is None:
        refused = _REFUSED_BY_KEY.get(normalize(text))
        why = (
            f"{refused[0]!r} cannot be isolated: {refused[1]}"
            if refused
            else f"{text!r} is not a stem name"
        )
        raise ValidationFailed(f"{field} {why}; accepted: {accepted(stems)}")
    if stems is not None and item.stem not in stems:
        raise ValidationFailed(
            f"{field} {item.name!r} needs a {item.stem} stem, which the configured stem engine "
            f"does not make ({SIX_STEM_HINT}); accepted: {accepted(stems)}"
        )
    return item


def order_options(settings: Settings, value: str | None, field: str = "stemName") -> dict[str, str]:
    """The options a ``split_stem_advanced`` order keeps: the ``stemName`` as the client sent it,
    once :func:`resolve` accepted it."""
    resolve(settings, value, field)
    return {"stemName": (value or "").strip()}


def accepted(stems: tuple[str, ...] | None) -> str:
    """The names ``stems`` can give, by stem: ``vocals: Lead Vocal, ...; drums: ...``."""
    usable = [item for item in CATALOGUE if stems is None or item.stem in stems]
    by_stem: dict[str, list[str]] = {}
    for item in usable:
        by_stem.setdefault(item.stem, []).append(item.name)
    return "; ".join(f"{stem}: {', '.join(names)}" for stem, names in by_stem.items())
