"""The LAME binding: which library it loads, what it writes, and how it fails."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from yinzi.errors import YinziError
from yinzi.media import AudioWriter, _lame, read_all, write_audio
from yinzi.media import testing as fx


@pytest.fixture(autouse=True)
def fresh_library() -> Iterator[None]:
    _lame.library.cache_clear()
    yield
    _lame.library.cache_clear()


def frame_header(data: bytes, offset: int) -> tuple[int, int]:
    """(mode, length) of the MPEG-1 layer III frame at ``offset``: mode 0 stereo, 1 joint."""
    header = int.from_bytes(data[offset : offset + 4], "big")
    assert header >> 21 == 0x7FF, "no frame sync"
    bitrate = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320][header >> 12 & 15]
    rate = [44100, 48000, 32000][header >> 10 & 3]
    return header >> 6 & 3, 144_000 * bitrate // rate + (header >> 9 & 1)


def test_the_optimised_build_in_lameenc_is_the_one_used() -> None:
    spec = importlib.util.find_spec("lameenc")
    assert spec is not None
    assert _lame.library()._name == spec.origin


def test_stereo_is_joint_and_the_file_starts_with_the_lame_tag(tmp_path: Path) -> None:
    path = tmp_path / "out.mp3"
    vocals, accompaniment = fx.song_stems(seconds=1.0)
    write_audio(path, vocals + accompaniment, format="mp3")
    data = path.read_bytes()

    _, tag_length = frame_header(data, 0)
    assert b"Info" in data[:tag_length]
    assert b"LAME" in data[:tag_length]  # the tag that carries the encoder delay and padding
    mode, _ = frame_header(data, tag_length)
    assert mode == 1


def test_another_lame_is_taken_when_the_first_is_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fallbacks = [p for p in _lame.candidates() if "lameenc" not in p]
    if not fallbacks:
        pytest.skip("no LAME here besides lameenc's")
    monkeypatch.setattr(_lame, "candidates", lambda: iter([str(tmp_path / "nope.so"), *fallbacks]))
    audio = fx.sine(1.0)

    write_audio(tmp_path / "out.mp3", audio, format="mp3")

    assert _lame.library()._name == fallbacks[0]
    assert read_all(tmp_path / "out.mp3").shape == audio.shape


def test_without_lame_mp3_fails_clearly_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_lame, "candidates", lambda: iter([str(tmp_path / "nope.so")]))
    path = tmp_path / "out.mp3"

    with pytest.raises(YinziError, match="could not start a mp3 encoder") as caught:
        AudioWriter(path, format="mp3")

    assert "no LAME library found" in str(caught.value.__cause__)
    assert not path.exists()


def test_a_closed_encoder_refuses_work() -> None:
    encoder = _lame.Encoder(sample_rate=44100, channels=2, bitrate=192_000, quality=3)
    encoder.close()
    encoder.close()
    with pytest.raises(ValueError, match="closed"):
        encoder.encode(np.zeros((2, 10), dtype=np.float32))
