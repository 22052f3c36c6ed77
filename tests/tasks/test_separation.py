"""Separation tasks: one file per stem, encoded whole or not at all; ``split_stem_advanced``
keeps one stem and the mixture minus it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from yinzi import media
from yinzi.errors import EngineError
from yinzi.media import testing
from yinzi.tasks import separation
from yinzi.tasks.separation import Tape, isolate, run

from helpers import make_settings


def _order(stem_name: str) -> Any:
    options = {"stemName": stem_name, "format": "wav"}
    return SimpleNamespace(order_type="split_stem_advanced", options=options)


def test_the_stem_and_the_rest_add_up_to_the_input_exactly(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, stem_engine="separation.spectral")
    song = testing.song(tmp_path / "song.wav", seconds=3.0)
    work = tmp_path / "work"
    work.mkdir()
    result = isolate(settings, _order("lead vocal"), song, work, lambda _: None)
    assert [(o.path.name, o.business) for o in result.outputs] == [
        ("vocals.wav", "vocals"),
        ("accompaniment.wav", "accompaniment"),
    ]
    stem, rest = (media.read_all(o.path) for o in result.outputs)
    mixture = media.read_all(song)
    assert stem.shape == rest.shape == mixture.shape
    assert result.seconds == pytest.approx(3.0)
    assert np.max(np.abs(stem + rest - mixture)) < 1e-4
    assert np.linalg.norm(stem) > 0.3 * np.linalg.norm(mixture)


def test_a_stem_the_engine_does_not_make_fails_the_order(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, stem_engine="separation.spectral")
    song = testing.song(tmp_path / "song.wav", seconds=1.0)
    with pytest.raises(EngineError, match="makes no guitar stem"):
        isolate(settings, _order("Guitar"), song, tmp_path, lambda _: None)


def test_the_tape_hands_input_back_however_the_output_is_cut() -> None:
    signal = np.arange(20, dtype=np.float32).reshape(2, 10)
    tape = Tape([signal[:, :3], signal[:, 3:4], signal[:, 4:]])
    seen = iter(tape)
    next(seen), next(seen)
    assert np.array_equal(tape.take(2), signal[:, :2])
    assert np.array_equal(tape.take(2), signal[:, 2:4])
    next(seen)
    assert np.array_equal(tape.take(6), signal[:, 4:])


class CrashingSeparator:
    """Yields some of its stems, then fails as a broken model would."""

    name, sample_rate, stems = "crashing", 44100, ("vocals", "accompaniment")

    def separate(self, blocks: Any, stems: Any, progress: Any = None) -> Iterator[dict[str, Any]]:
        for block in blocks:
            for start in range(0, 10000, 1000):
                yield {stem: block[:, start : start + 1000] * 0.5 for stem in stems}
        raise EngineError("the model crashed")


def _separation_order(format: str) -> Any:
    return SimpleNamespace(order_type="track-separation", options={"format": format})


@pytest.mark.parametrize("format", ["mp3", "wav"])
def test_each_stem_is_encoded_whole_and_in_its_format(tmp_path: Path, format: str) -> None:
    settings = make_settings(tmp_path, separation_engine="separation.spectral")
    song = testing.song(tmp_path / "song.wav", seconds=3.0)
    work = tmp_path / "work"
    work.mkdir()

    result = run(settings, _separation_order(format), song, work, lambda _: None)

    assert [(o.path.name, o.business) for o in result.outputs] == [
        (f"vocals.{format}", "vocals"),
        (f"accompaniment.{format}", "accompaniment"),
    ]
    assert result.seconds == pytest.approx(3.0)
    for output in result.outputs:
        assert media.probe(output.path).codec == ("mp3" if format == "mp3" else "pcm_s16le")
        assert media.read_all(output.path).shape == (2, 3 * 44100)


def test_an_engine_that_fails_midway_leaves_no_partial_stem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(separation, "engine", lambda *_: CrashingSeparator())
    song = testing.song(tmp_path / "song.wav", seconds=3.0)
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(EngineError, match="the model crashed"):
        run(make_settings(tmp_path), _separation_order("mp3"), song, work, lambda _: None)

    assert list(work.iterdir()) == []
