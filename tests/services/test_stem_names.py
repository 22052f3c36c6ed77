"""Kie's stem names: every one either maps to the stem that holds it or is refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.engines import registry
from yinzi.errors import ValidationFailed
from yinzi.services import stem_names
from yinzi.services.stem_names import CATALOGUE, REFUSED, SYNONYMS, find, resolve
from yinzi.settings import Settings

from helpers import make_settings

KIE_NAMES = (
    "Lead Vocal, Drum Kit, Kick, Snare, Risers, Bass, Backing Vocals, Piano, Electric Guitar, "
    "Percussion, String Section, Synth, Acoustic Guitar, Sound Effects, Synth Pad, Synth Bass, "
    "Guitar, Brass Section, Organ, Electronic Drum Kit, Lead Electric Guitar, Synth Keys, "
    "Rhythm Electric Guitar, Electric Piano, Upright Bass, Keyboards, Distorted Electric Guitar, "
    "Synth Strings, Synth Lead, Woodwinds, Rhythm Acoustic Guitar, Flute, Harp, Tambourine, "
    "Trumpet, Arpeggiator, Accordion, Fiddle, Pedal Steel Guitar, Synth Voice, Violin, "
    "Digital Piano, Synth Brass, Mandolin, Choir, Banjo, Bells, Clarinet, Tenor Saxophone, "
    "Trombone, Shaker, French Horn, Glockenspiel, Electric Bass, Cello, Timpani, Harmonica, "
    "Marimba, Vibraphone, Lap Steel Guitar, Saxophone, Orchestra, Horns, Cymbals, Hand Clap, Oboe, "
    "Celesta, Congas, Drone, Alto Saxophone, Double Bass, Ukulele, Harpsichord, "
    "Baritone Saxophone, Xylophone, Tuba, Bass Guitar, Whistle, Lead Guitar, Rhodes, 808, Bongos, "
    "Bassoon, Cowbell, Viola, Sitar, Steel Drums, Piccolo, Theremin, Bagpipes, Hi-Hat, Music Box, "
    "Melodica, Tabla, Koto, Djembe, Taiko, Didgeridoo"
).split(", ")
"""Kie's enum of stemName values, in its order."""
KIE_FIELDS = {
    "vocals",
    "backing_vocals",
    "drums",
    "bass",
    "guitar",
    "piano",
    "keyboard",
    "percussion",
    "strings",
    "synth",
    "fx",
    "brass",
    "woodwinds",
}


@pytest.fixture
def spectral(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, stem_engine="separation.spectral")


def test_every_kie_name_is_either_catalogued_or_refused_with_a_reason() -> None:
    catalogued = {item.name for item in CATALOGUE}
    assert len(KIE_NAMES) == 98
    assert catalogued.isdisjoint(REFUSED)
    assert set(KIE_NAMES) == (catalogued - {"Toms"}) | set(REFUSED)
    assert all(reason for reason in REFUSED.values())


def test_each_name_maps_to_an_engine_stem_and_a_kie_field() -> None:
    for item in CATALOGUE:
        assert item.stem in ("vocals", "drums", "bass", "guitar", "piano", "other")
        assert item.business in KIE_FIELDS


@pytest.mark.parametrize(
    ("text", "name", "stem"),
    [
        ("Kick", "Kick", "drums"),
        ("kick", "Kick", "drums"),
        ("  HI_HAT ", "Hi-Hat", "drums"),
        ("hihat", "Hi-Hat", "drums"),
        ("Drums", "Drum Kit", "drums"),
        ("bass drum", "Kick", "drums"),
        ("Vocals", "Lead Vocal", "vocals"),
        ("harmony", "Backing Vocals", "vocals"),
        ("Keys", "Keyboards", "other"),
        ("Strings", "String Section", "other"),
        ("sub-bass", "Synth Bass", "bass"),
        ("808", "808", "bass"),
        ("e-piano", "Electric Piano", "piano"),
        ("FX", "Sound Effects", "other"),
    ],
)
def test_names_match_ignoring_case_spaces_hyphens_underscores_and_by_synonym(
    text: str, name: str, stem: str
) -> None:
    item = find(text)
    assert item is not None and (item.name, item.stem) == (name, stem)


def test_every_synonym_leads_to_a_catalogued_name_and_none_is_unknown() -> None:
    assert all(find(alias) is not None for alias in SYNONYMS)
    assert find("Kazoo") is None and find("Orchestra") is None


def test_the_stems_of_each_engine_are_known_without_loading_it(
    spectral: Settings, tmp_path: Path
) -> None:
    assert stem_names.engine_stems(spectral) == (
        "vocals",
        "accompaniment",
        "drums",
        "bass",
        "other",
    )
    six = make_settings(tmp_path, stem_engine="separation.demucs")
    six.demucs.model = "htdemucs_6s"
    assert set(stem_names.engine_stems(six) or ()) >= {"guitar", "piano", "vocals"}
    four = make_settings(tmp_path, stem_engine="separation.demucs")
    assert "guitar" not in (stem_names.engine_stems(four) or ())
    four.demucs.model = "a1b2c3d4"  # a local signature: its sources are known once loaded
    assert registry.stems("separation.demucs", four.engine_options("separation.demucs")) is None


def test_a_guitar_is_refused_by_four_stem_engines_and_accepted_by_six(
    spectral: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ValidationFailed, match="needs a guitar stem"):
        resolve(spectral, "Electric Guitar")
    six = make_settings(tmp_path, stem_engine="separation.demucs")
    six.demucs.model = "htdemucs_6s"
    assert resolve(six, "electric guitar").stem == "guitar"
    assert "Lead Guitar" in stem_names.accepted(stem_names.engine_stems(six))


def test_refusals_name_the_field_and_the_accepted_names(spectral: Settings) -> None:
    with pytest.raises(ValidationFailed) as refused:
        resolve(spectral, "Synth Voice", "stuff.stemName")
    message = refused.value.message
    assert message.startswith("stuff.stemName 'Synth Voice' cannot be isolated: ")
    assert "; accepted: vocals: Lead Vocal, Choir, Backing Vocals; drums: Drum Kit" in message
    assert "piano:" not in message and "Rhodes" not in message
    with pytest.raises(ValidationFailed, match=r"^stemName is required for"):
        resolve(spectral, None)


def test_the_order_keeps_the_name_as_sent(spectral: Settings) -> None:
    assert stem_names.order_options(spectral, " hi hat ") == {"stemName": "hi hat"}
