"""The MusicGen composer, loaded through its real path from a tiny random model built offline."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from yinzi.engines.music.base import Composition, MusicRequest
from yinzi.engines.music.musicgen import SAMPLE_RATE, MusicGenComposer
from yinzi.engines.music.musicgen_testing import build_tiny_musicgen
from yinzi.errors import ConfigurationError


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen") / "tiny")


@pytest.fixture(scope="module")
def composer(tiny_model: Path) -> MusicGenComposer:
    return MusicGenComposer(model=str(tiny_model), device="cpu", local_files_only=True)


def audio_of(composition: Composition) -> np.ndarray:
    return np.concatenate(list(composition.blocks), axis=1)


@pytest.mark.parametrize("bars", [1, 2])
def test_a_clip_lasts_exactly_its_bars_at_the_nominal_tempo(
    composer: MusicGenComposer, bars: int
) -> None:
    composition = composer.compose(MusicRequest("calm lo fi piano", bars, seed=7))
    audio = audio_of(composition)

    assert composition.sample_rate == SAMPLE_RATE == 44100
    assert composition.tempo == 120.0
    assert composition.key is None
    assert audio.shape == (2, round(bars * 4 * 60 / 120.0 * 44100))
    assert audio.dtype == np.float32
    assert np.isfinite(audio).all()
    assert 0 < np.abs(audio).max() <= 0.89 + 1e-6


def test_the_clip_ends_in_a_fade(composer: MusicGenComposer) -> None:
    audio = audio_of(composer.compose(MusicRequest("upbeat drums", 1, seed=3)))

    assert np.abs(audio[:, -1]).max() < 1e-6


def test_another_nominal_tempo_changes_the_length(tiny_model: Path) -> None:
    composer = MusicGenComposer(model=str(tiny_model), local_files_only=True, tempo=90.0)
    composition = composer.compose(MusicRequest("slow jazz", 1, seed=1))

    assert composition.tempo == 90.0
    assert audio_of(composition).shape == (2, round(4 * 60 / 90.0 * 44100))


def test_the_same_seed_gives_the_same_audio_and_another_seed_other_audio(
    composer: MusicGenComposer,
) -> None:
    first = audio_of(composer.compose(MusicRequest("happy pop guitar", 1, seed=42)))
    again = audio_of(composer.compose(MusicRequest("happy pop guitar", 1, seed=42)))
    other = audio_of(composer.compose(MusicRequest("happy pop guitar", 1, seed=43)))

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_composing_leaves_the_global_torch_generator_alone(composer: MusicGenComposer) -> None:
    import torch

    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    composer.compose(MusicRequest("rock", 1, seed=5))

    assert torch.equal(torch.rand(3), expected)


def test_a_missing_model_offline_is_a_configuration_error_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    for model in (str(tmp_path / "absent"), "yinzi-tests/no-such-musicgen"):
        composer = MusicGenComposer(model=model, local_files_only=True)
        with pytest.raises(ConfigurationError, match=r"docs/musicgen\.md"):
            composer.compose(MusicRequest("jazz", 1, seed=0))

    assert time.monotonic() - started < 10


def test_availability_reports_what_is_not_on_disk(tiny_model: Path, tmp_path: Path) -> None:
    assert MusicGenComposer.availability(model=str(tiny_model)) is None
    assert "does not exist" in (MusicGenComposer.availability(model=str(tmp_path / "x")) or "")
    assert "cache" in (MusicGenComposer.availability(model="yinzi-tests/no-such-musicgen") or "")


def test_a_non_positive_tempo_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="tempo"):
        MusicGenComposer(tempo=0)
