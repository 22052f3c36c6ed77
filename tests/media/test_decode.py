"""Probing and decoding: durations per container, resampling, mixing, blocks and bad files."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from yinzi.errors import MediaError
from yinzi.media import AudioWriter, check_audio, probe, read_all, read_blocks, write_audio
from yinzi.media import testing as fx


def peak_frequency(channel: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(channel * np.hanning(channel.size)))
    return float(np.fft.rfftfreq(channel.size, 1 / sample_rate)[np.argmax(spectrum)])


# -- probe ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [("wav", "pcm_s16le"), ("mp3", "mp3"), ("flac", "flac"), ("ogg", "vorbis"), ("m4a", "aac")],
)
def test_probe_reads_an_audio_file(tmp_path: Path, suffix: str, codec: str) -> None:
    info = probe(fx.tone(tmp_path / f"tone.{suffix}", seconds=2.0))

    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert (info.sample_rate, info.channels, info.codec) == (44100, 2, codec)
    assert not info.has_video


@pytest.mark.parametrize(
    ("suffix", "container"), [("mp4", "mp4"), ("mkv", "matroska"), ("webm", "webm")]
)
def test_probe_reads_the_audio_of_a_video(tmp_path: Path, suffix: str, container: str) -> None:
    info = probe(fx.video_with_audio(tmp_path / f"clip.{suffix}", seconds=2.0))

    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.has_video
    assert container in info.container


def test_cover_art_is_not_video(tmp_path: Path) -> None:
    path = fx.tone_with_cover_art(tmp_path / "cover.mp3")
    with av.open(str(path)) as container:
        assert container.streams.video  # the picture is there...

    assert not probe(path).has_video  # ...but it is not a video


def test_probe_counts_the_duration_when_no_header_declares_it(tmp_path: Path) -> None:
    path = fx.video_with_audio(tmp_path / "recording.webm", seconds=1.5, live=True)
    with av.open(str(path)) as container:
        assert container.duration is None and container.streams.audio[0].duration is None

    assert probe(path).duration == pytest.approx(1.5, abs=0.05)


# -- read_blocks -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["wav", "flac", "mp3"])
def test_decoded_length_matches_what_was_encoded(tmp_path: Path, suffix: str) -> None:
    audio = read_all(fx.tone(tmp_path / f"tone.{suffix}", seconds=1.5))

    assert audio.shape == (2, 66150)
    assert audio.dtype == np.float32


def test_resamples_and_upmixes_a_16_khz_mono_file(tmp_path: Path) -> None:
    path = fx.tone(tmp_path / "speech.wav", seconds=2.0, sample_rate=16000, channels=1, freq=1000)

    audio = read_all(path, sample_rate=44100, channels=2)

    assert abs(audio.shape[1] - 88200) <= 2
    assert peak_frequency(audio[0, 4410:-4410], 44100) == pytest.approx(1000, abs=2)
    np.testing.assert_array_equal(audio[0], audio[1])  # mono goes to both sides...
    rms = float(np.sqrt(np.mean(audio[0, 4410:-4410] ** 2)))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.01)  # ...at full level


def test_downsamples(tmp_path: Path) -> None:
    path = fx.tone(tmp_path / "tone.flac", seconds=1.0, freq=3000)

    audio = read_all(path, sample_rate=16000, channels=1)

    assert audio.shape == (1, 16000)
    assert peak_frequency(audio[0], 16000) == pytest.approx(3000, abs=2)


def test_mono_is_the_mean_of_the_sides(tmp_path: Path) -> None:
    left = fx.sine(1.0, channels=1, freq=440)
    right = fx.sine(1.0, channels=1, freq=660, amplitude=0.25)
    path = tmp_path / "wide.wav"
    write_audio(path, np.concatenate([left, right]), format="wav")

    mono = read_all(path, channels=1)

    np.testing.assert_allclose(mono[0], (left[0] + right[0]) / 2, atol=2 / 32768)


@pytest.mark.parametrize(("source", "expected"), [(1, 1), (2, 2), (6, 2)])
def test_channels_none_keeps_mono_and_stereo(tmp_path: Path, source: int, expected: int) -> None:
    path = fx.tone(tmp_path / "tone.wav", seconds=0.5, channels=source)

    audio = read_all(path, channels=None)

    assert audio.shape == (expected, 22050)
    assert np.abs(audio).max() > 0.1


def test_surround_is_downmixed_without_clipping(tmp_path: Path) -> None:
    audio = read_all(fx.tone(tmp_path / "surround.wav", seconds=0.5, channels=6))

    assert audio.shape == (2, 22050)
    assert 0.1 < np.abs(audio).max() <= 1.0


def test_blocks_have_the_requested_length_and_the_last_is_shorter(tmp_path: Path) -> None:
    path = fx.tone(tmp_path / "tone.mp3", seconds=2.1)

    blocks = list(read_blocks(path, sample_rate=22050, block_seconds=0.5))

    assert [b.shape for b in blocks] == [(2, 11025)] * 4 + [(2, 2205)]
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in blocks)


def test_blocks_join_to_the_whole(tmp_path: Path) -> None:
    path = fx.song(tmp_path / "song.flac", seconds=2.0)

    joined = np.concatenate(list(read_blocks(path, block_seconds=0.3)), axis=1)

    np.testing.assert_array_equal(joined, read_all(path))


def test_memory_stays_bounded_by_the_block(tmp_path: Path) -> None:
    path = fx.tone(tmp_path / "long.wav", seconds=60.0)  # 21 MB once decoded to float32
    whole = 60 * 44100 * 2 * 4

    tracemalloc.start()
    try:
        total = sum(block.shape[1] for block in read_blocks(path, block_seconds=1.0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == 60 * 44100
    assert peak < whole / 10


def test_arguments_are_checked_before_the_file_is_opened(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.wav"
    with pytest.raises(ValueError, match="channels"):
        read_blocks(missing, channels=3)
    with pytest.raises(ValueError, match="block_seconds"):
        read_blocks(missing, block_seconds=0)
    with pytest.raises(ValueError, match="sample_rate"):
        read_blocks(missing, sample_rate=0)


def test_stopping_early_closes_the_file(tmp_path: Path) -> None:
    blocks = read_blocks(fx.tone(tmp_path / "tone.wav"), block_seconds=0.1)
    next(blocks)
    blocks.close()  # must not raise or leak (ResourceWarning would fail the suite)


# -- files we cannot use -------------------------------------------------------------------------

Read = Callable[[Path], object]
READERS: list[Read] = [check_audio, probe, read_all]


def garbage_mp3(tmp_path: Path) -> Path:
    return fx.garbage(tmp_path / "noise.mp3")


@pytest.mark.parametrize("read", READERS, ids=["check_audio", "probe", "read_all"])
@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda d: fx.text_as_mp3(d / "lyrics.mp3"), "not a readable audio or video file"),
        (garbage_mp3, "not a readable audio or video file"),
        (lambda d: fx.empty_file(d / "empty.mp3"), "the file is empty"),
        (lambda d: fx.video_without_audio(d / "silent.mp4"), "the file has no audio stream"),
        (
            lambda d: fx.truncated(fx.video_with_audio(d / "clip.mp4"), d / "cut.mp4"),
            "the file is truncated or corrupt",
        ),
        (
            lambda d: fx.truncated(fx.tone(d / "tone.m4a"), d / "cut.m4a"),
            "the file is truncated or corrupt",
        ),
        (
            lambda d: fx.truncated(fx.tone(d / "tone.ogg"), d / "cut.ogg"),
            "the file is truncated or corrupt",
        ),
    ],
    ids=["text", "garbage", "empty", "no-audio", "cut-mp4", "cut-m4a", "cut-ogg"],
)
def test_unusable_files_say_why(
    tmp_path: Path, read: Read, build: Callable[[Path], Path], reason: str
) -> None:
    with pytest.raises(MediaError, match=f"^{reason}$"):
        read(build(tmp_path))


def test_the_ffmpeg_error_is_kept_as_the_cause(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe(fx.text_as_mp3(tmp_path / "lyrics.mp3"))

    assert isinstance(caught.value.__cause__, av.FFmpegError)
    assert caught.value.status == 400


def test_a_cut_flac_fails_part_way_and_says_where(tmp_path: Path) -> None:
    cut = fx.truncated(fx.tone(tmp_path / "tone.flac", seconds=4.0), tmp_path / "cut.flac", 0.5)

    with pytest.raises(MediaError, match=r"^the file is truncated or corrupt after \d+\.\d s$"):
        read_all(cut)


def test_a_cut_mp3_is_a_shorter_mp3(tmp_path: Path) -> None:
    cut = fx.truncated(fx.tone(tmp_path / "tone.mp3", seconds=2.0), tmp_path / "cut.mp3")

    assert probe(cut).duration == pytest.approx(2.0, abs=0.05)  # what the header declares
    assert 0.4 < read_all(cut).shape[1] / 44100 < 0.8  # what is left


def test_zero_duration(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    with AudioWriter(path, format="wav"):
        pass

    with pytest.raises(MediaError, match=r"^the audio has zero duration$"):
        probe(path)
    with pytest.raises(MediaError, match=r"^the audio has zero duration$"):
        read_all(path)
    with pytest.raises(MediaError, match=r"^the audio has zero duration$"):
        check_audio(path)


@pytest.mark.parametrize("name", ["tone.mp3", "tone.wav", "clip.mp4", "clip.webm", "live.mkv"])
def test_check_audio_passes_audio_and_the_audio_of_a_video(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.startswith("tone"):
        fx.tone(path)
    else:
        fx.video_with_audio(path, live=name.startswith("live"))
    check_audio(path)


def test_check_audio_reads_only_the_head(tmp_path: Path) -> None:
    cut = fx.truncated(fx.tone(tmp_path / "tone.flac", seconds=4.0), tmp_path / "cut.flac", 0.5)
    check_audio(cut)  # the damage 2 s in is for the order's full decode to find


def test_a_missing_file_is_not_the_users_fault(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "not-there.mp3")
