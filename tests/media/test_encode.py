"""Encoding: round trips, streaming in odd block sizes, clipping and clean-up on failure."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from yinzi.errors import YinziError
from yinzi.media import (
    CONTENT_TYPES,
    AudioWriter,
    OutputFormat,
    probe,
    read_all,
    write_audio,
)
from yinzi.media import testing as fx

FORMATS: list[OutputFormat] = list(get_args(OutputFormat))
ODD_BLOCKS = [1, 1151, 0, 1153, 4096, 7, 30000]


def quantised(audio: np.ndarray) -> np.ndarray:
    """What 16-bit PCM stores for ``audio``."""
    return (np.clip(np.round(audio * 32768), -32768, 32767) / 32768).astype(np.float32)


def stream_in_odd_blocks(path: Path, audio: np.ndarray, format: OutputFormat) -> None:
    with AudioWriter(path, format=format, channels=audio.shape[0]) as writer:
        start = 0
        for size in ODD_BLOCKS * 10:
            writer.write(audio[:, start : start + size])
            start += size
        writer.write(audio[:, start:])
    assert writer.samples_written == audio.shape[1]


def test_every_format_has_a_content_type() -> None:
    assert set(CONTENT_TYPES) == set(FORMATS)


@pytest.mark.parametrize("format", ["wav", "flac"])
@pytest.mark.parametrize("channels", [1, 2])
def test_pcm_round_trip_is_sample_exact(
    tmp_path: Path, format: OutputFormat, channels: int
) -> None:
    vocals, accompaniment = fx.song_stems(seconds=1.0)
    audio = (vocals + accompaniment)[:channels]
    path = tmp_path / f"out.{format}"

    write_audio(path, audio, format=format)

    np.testing.assert_array_equal(read_all(path, channels=None), quantised(audio))


@pytest.mark.parametrize("samples", [44100, 12345, 100_000])
def test_mp3_round_trip_keeps_the_length_and_the_sound(tmp_path: Path, samples: int) -> None:
    audio = fx.sine(samples / 44100, freq=440)
    path = tmp_path / "out.mp3"

    write_audio(path, audio, format="mp3")
    decoded = read_all(path)

    assert decoded.shape == audio.shape  # encoder delay and padding are trimmed...

    def error(lag: int) -> float:
        shifted = decoded[0, 2048 + lag : samples - 2048 + lag] - audio[0, 2048:-2048]
        return float(np.sqrt(np.mean(shifted**2)))

    assert error(0) < 0.02  # about -35 dB against the tone's 0.35 RMS
    assert error(0) < min(error(-1), error(1))  # ...and the start is in place, not shifted


@pytest.mark.parametrize("format", FORMATS)
def test_streaming_in_odd_blocks_equals_writing_at_once(
    tmp_path: Path, format: OutputFormat
) -> None:
    vocals, accompaniment = fx.song_stems(seconds=2.0)
    audio = vocals + accompaniment
    streamed, whole = tmp_path / f"streamed.{format}", tmp_path / f"whole.{format}"

    stream_in_odd_blocks(streamed, audio, format)
    write_audio(whole, audio, format=format)

    np.testing.assert_array_equal(read_all(streamed), read_all(whole))
    if format != "mp3":
        assert streamed.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize("bitrate", [128_000, 320_000])
def test_mp3_is_constant_bitrate(tmp_path: Path, bitrate: int) -> None:
    path = tmp_path / "out.mp3"

    write_audio(path, fx.sine(4.0), format="mp3", bitrate=bitrate)

    assert path.stat().st_size == pytest.approx(bitrate / 8 * 4.0, rel=0.05)


@pytest.mark.parametrize(
    ("format", "codec"), [("mp3", "mp3"), ("wav", "pcm_s16le"), ("flac", "flac")]
)
def test_written_files_probe_as_their_format(
    tmp_path: Path, format: OutputFormat, codec: str
) -> None:
    path = tmp_path / f"out.{format}"
    write_audio(path, fx.sine(1.0, channels=1, sample_rate=22050), format=format, sample_rate=22050)

    info = probe(path)

    assert (info.codec, info.sample_rate, info.channels) == (codec, 22050, 1)
    assert info.duration == pytest.approx(1.0, abs=0.03)


def test_samples_are_clipped_and_nan_is_silence(tmp_path: Path) -> None:
    audio = np.array([[2.0, -3.0, np.nan, np.inf, -np.inf, 0.5]] * 2, dtype=np.float32)
    path = tmp_path / "loud.wav"

    write_audio(path, audio, format="wav")

    expected = np.array([32767 / 32768, -1.0, 0.0, 32767 / 32768, -1.0, 0.5], dtype=np.float32)
    np.testing.assert_array_equal(read_all(path)[0], expected)


def test_the_partial_file_is_removed_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "half.mp3"

    with pytest.raises(RuntimeError, match="the engine crashed"):
        with AudioWriter(path, format="mp3") as writer:
            writer.write(fx.sine(1.0))
            assert path.exists()
            raise RuntimeError("the engine crashed")

    assert not path.exists()


def test_a_block_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    with AudioWriter(tmp_path / "out.wav", format="wav", channels=2) as writer:
        with pytest.raises(ValueError, match=r"expected a \(2, n\) array"):
            writer.write(fx.sine(0.1, channels=1))
        with pytest.raises(ValueError, match=r"expected a \(2, n\) array"):
            writer.write(np.zeros(10, dtype=np.float32))
        writer.write(np.zeros((2, 0), dtype=np.float32))
    assert writer.samples_written == 0


def test_a_closed_writer_refuses_more_and_closes_twice_quietly(tmp_path: Path) -> None:
    writer = AudioWriter(tmp_path / "out.flac", format="flac")
    writer.write(fx.sine(0.1))
    writer.close()
    writer.close()

    with pytest.raises(ValueError, match="closed"):
        writer.write(fx.sine(0.1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "ogg"}, "format"),
        ({"format": "wav", "channels": 3}, "channels"),
        ({"format": "wav", "sample_rate": 0}, "sample_rate"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AudioWriter(tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_an_encoder_that_cannot_start_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp3"

    with pytest.raises(YinziError, match="could not start a mp3 encoder") as caught:
        AudioWriter(path, format="mp3", sample_rate=96000)  # MP3 stops at 48 kHz

    assert caught.value.status == 500
    assert not path.exists()
