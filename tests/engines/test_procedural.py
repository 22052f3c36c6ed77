"""Tests for the weight-free ``music.procedural`` composer: prompt, arrangement and audio."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from yinzi.engines.music._arranger import key_pitch_classes
from yinzi.engines.music._loudness import integrated_loudness, k_weighting
from yinzi.engines.music._prompt import parse_prompt
from yinzi.engines.music.base import Composer, MusicRequest
from yinzi.engines.music.procedural import ProceduralComposer

Audio = npt.NDArray[np.float32]
RATE = 44100
SEED_PROMPT = "guitar solo bossa nova C minor"
C_MAJOR_SCALE = {0, 2, 4, 5, 7, 9, 11}


def compose(prompt: str, bars: int = 2, seed: int = 1) -> tuple[Audio, float, str | None]:
    composition = ProceduralComposer().compose(MusicRequest(prompt, bars, seed))
    audio = np.concatenate(list(composition.blocks), axis=1)
    return audio, composition.tempo, composition.key


def test_it_is_a_composer() -> None:
    composer: Composer = ProceduralComposer()
    assert composer.name == "music.procedural"


@pytest.mark.parametrize(
    ("prompt", "tonic", "mode"),
    [
        (SEED_PROMPT, 0, "minor"),
        ("slow piano in F sharp minor", 6, "minor"),
        ("a calm piece in A", 9, None),
        ("B flat major ballad", 10, "major"),
        ("a happy song", None, None),
        ("something in minor", None, "minor"),
    ],
)
def test_prompt_key_and_mode(prompt: str, tonic: int | None, mode: str | None) -> None:
    brief = parse_prompt(prompt)
    assert (brief.tonic, brief.mode) == (tonic, mode)


def test_prompt_style_instruments_mood_and_solo() -> None:
    brief = parse_prompt("Guitar SOLO bossa nova with flute and no drums sad zebra")
    assert brief.style == "bossa"
    assert brief.instruments == ("guitar", "flute")
    assert brief.excluded == ("drums",)
    assert brief.mood == "sad"
    assert brief.solo


@pytest.mark.parametrize(
    ("prompt", "bpm", "scale"),
    [
        ("edm 128 bpm", 128.0, 1.0),
        ("one hundred twenty bpm jazz", 120.0, 1.0),
        ("slow jazz", None, 0.75),
        ("fast rock", None, 1.3),
        ("900 bpm", 220.0, 1.0),
    ],
)
def test_prompt_tempo(prompt: str, bpm: float | None, scale: float) -> None:
    brief = parse_prompt(prompt)
    assert (brief.bpm, brief.tempo_scale) == (bpm, scale)


def test_unknown_words_are_ignored() -> None:
    assert parse_prompt("purple elephants dancing quietly") == parse_prompt("")


def test_a_prompt_naming_nothing_still_composes_a_full_piece() -> None:
    composer = ProceduralComposer()
    arrangement = composer.arrangement(MusicRequest("", 4, 3))
    assert {p.role for p in arrangement.parts} >= {"lead", "comp", "bass"}
    assert arrangement.drums


@pytest.mark.parametrize("bars", [1, 8, 12])
def test_duration_is_exact(bars: int) -> None:
    audio, tempo, _ = compose("happy pop in G", bars)
    assert audio.shape == (2, round(bars * 4 * 60 / tempo * RATE))


def test_blocks_are_bars() -> None:
    composition = ProceduralComposer().compose(MusicRequest("rock", 3, 1))
    assert len(list(composition.blocks)) == 3


def test_the_seed_makes_the_piece() -> None:
    first, _, _ = compose(SEED_PROMPT, 2, seed=7)
    again, _, _ = compose(SEED_PROMPT, 2, seed=7)
    other, _, _ = compose(SEED_PROMPT, 2, seed=8)
    assert np.array_equal(first, again)
    assert first.shape == other.shape and not np.array_equal(first, other)


def test_different_seeds_write_different_melodies() -> None:
    composer = ProceduralComposer()
    melodies = {
        tuple(n.pitch for n in composer.arrangement(MusicRequest(SEED_PROMPT, 8, s)).parts[0].notes)
        for s in range(5)
    }
    assert len(melodies) == 5


def test_audio_is_clean_stereo_at_minus_14_lufs() -> None:
    audio, _, key = compose(SEED_PROMPT, 4)
    assert key == "C minor"
    assert audio.dtype == np.float32 and audio.shape[0] == 2
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() <= 1.0
    assert integrated_loudness(audio, RATE) == pytest.approx(-14.0, abs=2.0)
    end = np.abs(audio[:, -441:]).max()
    assert end < 0.01 and end < 0.1 * np.abs(audio[:, -RATE // 2 :]).max()


def test_k_weighting_matches_the_standard_at_48_khz() -> None:
    shelf, high_pass = k_weighting(48000)
    assert shelf == pytest.approx([1.53512486, -2.69169619, 1.19839281, 1, -1.69065929, 0.73248077])
    assert high_pass == pytest.approx([1, -2, 1, 1, -1.99004745, 0.99007225])


def test_loudness_of_a_full_scale_997_hz_sine() -> None:
    t = np.arange(RATE * 2) / RATE
    tone = np.sin(2 * np.pi * 997 * t)[None, :]
    assert integrated_loudness(tone, RATE) == pytest.approx(-3.01, abs=0.1)  # BS.1770's check
    assert integrated_loudness(np.tile(tone, (2, 1)), RATE) == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize(
    "prompt",
    [SEED_PROMPT, "jazz sax in A flat major", "sad folk in F sharp minor", "edm in B major",
     "waltz in D", "funk in E minor", "reggae organ"],
)  # fmt: skip
def test_every_note_stays_in_the_key(prompt: str) -> None:
    for seed in range(3):
        arrangement = ProceduralComposer().arrangement(MusicRequest(prompt, 8, seed))
        plan = arrangement.plan
        key = key_pitch_classes(plan.tonic, plan.mode)
        used = {n.pitch % 12 for part in arrangement.parts for n in part.notes}
        assert used <= key, f"{prompt!r}, seed {seed}: {sorted(used - key)} outside {plan.key}"


def test_the_piece_starts_and_ends_on_the_tonic() -> None:
    arrangement = ProceduralComposer().arrangement(MusicRequest("pop in E", 8, 2))
    tonic = arrangement.plan.tonic
    assert arrangement.chords[0].pitch_classes[0] == tonic
    assert arrangement.chords[-1].pitch_classes[0] == tonic
    assert arrangement.chords[-2].degree == 4  # the dominant: a perfect cadence
    assert arrangement.parts[0].notes[-1].pitch % 12 == tonic


def test_the_audio_sounds_in_the_key() -> None:
    audio, _, _ = compose("piano ballad in C major", 4)
    mono = audio.mean(axis=0).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / RATE)
    band = (freqs > 80) & (freqs < 1000)
    classes = np.round(69 + 12 * np.log2(freqs[band] / 440)).astype(int) % 12
    chroma = np.bincount(classes, weights=spectrum[band] ** 2, minlength=12)
    in_scale = sum(chroma[pc] for pc in C_MAJOR_SCALE)
    assert in_scale / chroma.sum() > 0.9


def test_solo_leaves_the_lead_nearly_alone() -> None:
    composer = ProceduralComposer()
    band = composer.arrangement(MusicRequest("guitar bossa nova C minor", 4, 1))
    solo = composer.arrangement(MusicRequest(SEED_PROMPT, 4, 1))
    assert len(set(band.plan.instruments)) > len(set(solo.plan.instruments)) == 1
    assert band.drums and not solo.drums
    flute = composer.arrangement(MusicRequest("flute solo", 4, 1)).plan
    assert flute.instruments == ("flute", "pad")


def test_no_bars_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one bar"):
        ProceduralComposer().arrangement(MusicRequest("pop", 0, 1))
