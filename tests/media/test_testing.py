"""The synthetic song: made block by block, so a long one costs no more memory than a short one."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from yinzi.media import read_all
from yinzi.media import testing as fx


def test_the_song_does_not_depend_on_how_it_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    vocals, accompaniment = fx.song_stems(seconds=25.0, sample_rate=16000)
    monkeypatch.setattr(fx, "SONG_BLOCK_SECONDS", 3.3)  # bursts and notes straddle the cuts

    cut_vocals, cut_accompaniment = fx.song_stems(seconds=25.0, sample_rate=16000)

    np.testing.assert_allclose(cut_vocals, vocals, atol=1e-6)
    np.testing.assert_allclose(cut_accompaniment, accompaniment, atol=1e-6)


def test_the_file_holds_the_sum_of_the_stems(tmp_path: Path) -> None:
    vocals, accompaniment = fx.song_stems(seconds=12.0)

    decoded = read_all(fx.song(tmp_path / "song.wav", seconds=12.0))

    np.testing.assert_allclose(decoded, vocals + accompaniment, atol=1 / 32768)


def test_a_longer_song_is_written_in_the_same_memory(tmp_path: Path) -> None:
    def peak(seconds: float) -> int:
        tracemalloc.start()
        try:
            fx.song(tmp_path / f"{seconds}.wav", seconds=seconds)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short, long = peak(30.0), peak(120.0)

    assert long < 1.2 * short  # the whole 120-s mix alone would be 42 MB of float32
    assert long < 120 * 44100 * 2 * 4 / 2
