"""Synthetic media for tests and benchmarks: small, deterministic files built with numpy and PyAV.

Each builder writes the file at ``path`` (its suffix picks the format unless one is given) and
returns that path, so a test reads ``probe(tone(tmp_path / "a.mp3"))``. The same arguments give
the same samples every time; encoded bytes may differ between ffmpeg versions.

What the broken files yield, with :mod:`yinzi.media.decode`'s truncation policy:

- :func:`text_as_mp3`, :func:`garbage`: "not a readable audio or video file".
- :func:`empty_file`: "the file is empty".
- :func:`video_without_audio`: "the file has no audio stream".
- :func:`truncated` of an MP4/M4A (index at the end, as PyAV writes them) or an Ogg: "the file
  is truncated or corrupt"; of a FLAC: decoding fails part-way ("... after 0.1 s"); of an MP3,
  WAV, MKV or WebM: a valid, shorter file (the MP3 and MKV headers still declare the full length).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

Audio = npt.NDArray[np.float32]
ToneFormat = Literal["wav", "mp3", "flac", "ogg", "m4a"]
VideoFormat = Literal["mp4", "mkv", "webm"]

_LAYOUTS: Final = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}
# format -> (muxer, audio encoder, encoder options)
_AUDIO: Final[dict[str, tuple[str, str, dict[str, str]]]] = {
    "wav": ("wav", "pcm_s16le", {}),
    "mp3": ("mp3", "libmp3lame", {}),
    "flac": ("flac", "flac", {}),
    "ogg": ("ogg", "vorbis", {"strict": "experimental"}),  # ffmpeg's own Vorbis encoder
    "m4a": ("ipod", "aac", {}),
}
# format -> (muxer, video encoder, audio encoder, audio sample rate)
_VIDEO: Final[dict[str, tuple[str, str, str, int]]] = {
    "mp4": ("mp4", "libx264", "aac", 44100),
    "mkv": ("matroska", "libx264", "aac", 44100),
    "webm": ("webm", "libvpx", "libopus", 48000),  # Opus runs at 48 kHz only
}
_FPS: Final = 25
SONG_BLOCK_SECONDS: Final = 2.0
"""The length of :func:`song_blocks`' blocks."""
_SIZE: Final = 64


def sine(
    seconds: float = 2.0,
    *,
    sample_rate: int = 44100,
    channels: int = 2,
    freq: float = 440.0,
    amplitude: float = 0.5,
) -> Audio:
    """A sine wave, the same on every channel, shaped ``(channels, n)``."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[np.newaxis], channels, axis=0)


def tone(
    path: Path,
    seconds: float = 2.0,
    sample_rate: int = 44100,
    channels: int = 2,
    freq: float = 440.0,
    format: ToneFormat | None = None,
) -> Path:
    """An audio file holding :func:`sine` (MP3 and Ogg take at most two channels)."""
    audio = sine(seconds, sample_rate=sample_rate, channels=channels, freq=freq)
    return _write_audio_file(path, [audio], sample_rate, format, channels=channels)


def song_stems(seconds: float = 4.0, sample_rate: int = 44100) -> tuple[Audio, Audio]:
    """The two stems of :func:`song`: ``(vocals, accompaniment)``, each float32 ``(2, n)``.

    The voice is centre-panned: a stepping pentatonic melody (one note per 0.5 s) with 5.5 Hz
    vibrato and six harmonics. The accompaniment is off-centre: an Am-F-C-G chord per second with
    root and fifth to the left and third and octave to the right, and a noise-burst click track
    on every quarter second (accented on the beat), panned slightly left. Their sum peaks below
    0.9, so the mix never clips.
    """
    pieces = list(song_blocks(seconds, sample_rate))
    if not pieces:
        empty = np.zeros((2, 0), np.float32)
        return empty, empty.copy()
    vocals, accompaniment = zip(*pieces, strict=True)
    return np.concatenate(vocals, axis=1), np.concatenate(accompaniment, axis=1)


def song_blocks(seconds: float = 4.0, sample_rate: int = 44100) -> Iterator[tuple[Audio, Audio]]:
    """:func:`song_stems` as ``(vocals, accompaniment)`` blocks of :data:`SONG_BLOCK_SECONDS`
    (the last shorter), made one at a time: the memory they take does not grow with
    ``seconds``, so an hour of song can be written. Their concatenation is
    :func:`song_stems`."""
    n = round(seconds * sample_rate)
    step = round(SONG_BLOCK_SECONDS * sample_rate)
    voice, chords = _Voice(sample_rate), _Chords(sample_rate)
    for start in range(0, n, step):
        index = np.arange(start, min(start + step, n))
        t = index / sample_rate
        yield voice.next(t), chords.next(t) + _clicks(index, sample_rate)


def song(
    path: Path, seconds: float = 4.0, sample_rate: int = 44100, format: ToneFormat | None = None
) -> Path:
    """An audio file holding the sum of :func:`song_stems`, written block by block (an hour
    of song takes no more memory than a minute)."""
    mixes = (vocals + accompaniment for vocals, accompaniment in song_blocks(seconds, sample_rate))
    return _write_audio_file(path, mixes, sample_rate, format, channels=2)


def tone_with_cover_art(path: Path, seconds: float = 1.0) -> Path:
    """An MP3 tone carrying a PNG cover picture (a video stream flagged as attached picture)."""
    track = _AudioTrack("libmp3lame", 44100, 2, [sine(seconds)])
    return _mux(path, "mp3", audio=track, video_encoder="png", seconds=0.0, cover_art=True)


def video_with_audio(
    path: Path,
    seconds: float = 2.0,
    format: VideoFormat | None = None,
    freq: float = 440.0,
    live: bool = False,
) -> Path:
    """A 64x64 video of a moving square with a stereo tone: MP4 (H.264 + AAC), MKV (H.264 +
    AAC) or WebM (VP8 + Opus), by ``format`` or the suffix.

    ``live`` (MKV/WebM) writes it as a live stream, without duration or index, the way a
    browser's MediaRecorder does; only decoding tells how long it is.
    """
    muxer, video_encoder, audio_encoder, rate = _VIDEO[format or _suffix(path)]
    track = _AudioTrack(audio_encoder, rate, 2, [sine(seconds, sample_rate=rate, freq=freq)])
    options = {"live": "1"} if live else {}
    return _mux(
        path, muxer, audio=track, video_encoder=video_encoder, seconds=seconds, options=options
    )


def video_without_audio(
    path: Path, seconds: float = 1.0, format: VideoFormat | None = None
) -> Path:
    """A 64x64 video of a moving square and no audio stream at all."""
    muxer, video_encoder, _, _ = _VIDEO[format or _suffix(path)]
    return _mux(path, muxer, audio=None, video_encoder=video_encoder, seconds=seconds)


def text_as_mp3(path: Path) -> Path:
    """A plain text file (name it ``*.mp3`` to look like a song)."""
    path.write_text("These are the lyrics, not the song.\nla la la\n", encoding="utf-8")
    return path


def empty_file(path: Path) -> Path:
    """A file of zero bytes."""
    path.write_bytes(b"")
    return path


def garbage(path: Path, size: int = 4096, seed: int = 0) -> Path:
    """``size`` pseudo-random bytes; no demuxer recognises them."""
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def truncated(src: Path, dst: Path, fraction: float = 0.3) -> Path:
    """The first ``fraction`` of ``src``'s bytes, as an interrupted upload leaves it."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


# -- building blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _AudioTrack:
    encoder: str
    sample_rate: int
    channels: int
    blocks: Iterable[Audio]
    """``(channels, n)`` blocks, encoded one at a time as they come."""
    options: dict[str, str] = field(default_factory=dict)


def _suffix(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _write_audio_file(
    path: Path,
    blocks: Iterable[Audio],
    sample_rate: int,
    format: ToneFormat | None,
    *,
    channels: int,
) -> Path:
    muxer, encoder, options = _AUDIO[format or _suffix(path)]
    track = _AudioTrack(encoder, sample_rate, channels, blocks, options)
    return _mux(path, muxer, audio=track, video_encoder=None, seconds=0.0)


def _mux(
    path: Path,
    muxer: str,
    *,
    audio: _AudioTrack | None,
    video_encoder: str | None,
    seconds: float,
    cover_art: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    with av.open(str(path), "w", format=muxer, container_options=options) as container:
        # Every stream must exist before the first packet is muxed (that writes the header).
        video = _video_stream(container, video_encoder, cover_art) if video_encoder else None
        sound = _audio_stream(container, audio) if audio is not None else None
        if video is not None:
            frames = 1 if cover_art else max(1, round(seconds * _FPS))
            _encode_video(container, video, frames, "rgb24" if cover_art else "yuv420p")
        if sound is not None and audio is not None:
            _encode_audio(container, sound, audio)
    return path


def _encode_video(
    container: OutputContainer, stream: VideoStream, frames: int, pixel_format: str
) -> None:
    for index in range(frames):
        frame = VideoFrame.from_ndarray(_picture(index), format="rgb24")
        frame.pts = index
        container.mux(stream.encode(frame.reformat(format=pixel_format)))
    container.mux(stream.encode(None))


def _encode_audio(container: OutputContainer, stream: AudioStream, track: _AudioTrack) -> None:
    layout = _LAYOUTS[track.channels]
    written = 0
    for block in track.blocks:
        frame = AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=layout)
        frame.sample_rate = track.sample_rate
        frame.pts = written
        written += block.shape[1]
        container.mux(stream.encode(frame))  # PyAV cuts it to the encoder's frame size
    container.mux(stream.encode(None))


def _audio_stream(container: OutputContainer, track: _AudioTrack) -> AudioStream:
    layout = _LAYOUTS[track.channels]
    stream = container.add_stream(track.encoder, rate=track.sample_rate, layout=layout)
    stream.codec_context.options = dict(track.options)
    if track.encoder == "libmp3lame":
        stream.codec_context.bit_rate = 192_000
    return cast(AudioStream, stream)


def _video_stream(container: OutputContainer, encoder: str, cover_art: bool) -> VideoStream:
    stream = cast(VideoStream, container.add_stream(encoder, rate=_FPS))
    stream.codec_context.width = stream.codec_context.height = _SIZE
    stream.codec_context.pix_fmt = "rgb24" if cover_art else "yuv420p"
    if cover_art:
        stream.disposition = Disposition.attached_pic
    return stream


def _picture(index: int) -> npt.NDArray[np.uint8]:
    """A grey gradient with a white 16x16 square sliding one step right per frame."""
    ramp = np.linspace(40, 200, _SIZE, dtype=np.uint8)
    image = np.repeat(np.broadcast_to(ramp[:, np.newaxis], (_SIZE, _SIZE))[..., np.newaxis], 3, 2)
    left = (index * 2) % (_SIZE - 16)
    image[24:40, left : left + 16] = 255
    return np.ascontiguousarray(image)


_MELODY: Final = (220.0, 261.63, 293.66, 329.63, 392.0, 329.63, 293.66, 261.63)  # A minor
_CHORDS: Final = (  # Am, F, C, G as (root, third, fifth) in Hz
    (110.0, 130.81, 164.81),
    (87.31, 110.0, 130.81),
    (130.81, 164.81, 196.0),
    (98.0, 123.47, 146.83),
)


_TOP_PITCH: Final = max(_MELODY) * 1.02  # the highest the vibrato takes the melody


class _Voice:
    """The voice of :func:`song_stems`, block after block: its phase carries over."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._phase = 0.0

    def next(self, t: npt.NDArray[np.float64]) -> Audio:
        note = (t / 0.5).astype(int)
        pitch = np.asarray(_MELODY)[note % len(_MELODY)]
        pitch = pitch * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))  # vibrato, about +-35 cents
        phase = self._phase + 2 * np.pi * np.cumsum(pitch) / self._rate
        self._phase = float(phase[-1]) if phase.size else self._phase
        wave = np.zeros_like(t)
        for k in range(1, 7):
            if k * _TOP_PITCH < 0.45 * self._rate:  # no aliasing at low rates
                wave += np.sin(k * phase) * (0.14 / k)
        within = t - note * 0.5
        envelope = np.clip(np.minimum(within / 0.02, (0.5 - within) / 0.05), 0.0, 1.0)
        mono = (wave * envelope).astype(np.float32)
        return np.stack([mono, mono])


class _Chords:
    """The chords of :func:`song_stems`, block after block: each voice's phase carries over."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._phases = np.zeros(3)  # of the root, third and fifth

    def next(self, t: npt.NDArray[np.float64]) -> Audio:
        chord = np.asarray(_CHORDS)[(t / 1.0).astype(int) % len(_CHORDS)]
        phases = self._phases + 2 * np.pi * np.cumsum(chord, axis=0) / self._rate
        if len(phases):
            self._phases = phases[-1].copy()
        root, third, fifth = phases[:, 0], phases[:, 1], phases[:, 2]

        def pad(phase: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return 0.08 * np.sin(phase) + 0.03 * np.sin(2 * phase)

        left_voicing, right_voicing = pad(root) + pad(fifth), pad(third) + pad(2 * root)
        left = 0.9 * left_voicing + 0.1 * right_voicing
        right = 0.1 * left_voicing + 0.9 * right_voicing
        return np.stack([left, right]).astype(np.float32)


def _clicks(index: npt.NDArray[np.int64], sample_rate: int) -> Audio:
    """The click track at sample positions ``index`` (consecutive): a burst every quarter
    second, bursts that straddle the block's edges cut to it."""
    burst = round(0.03 * sample_rate)
    decay = np.exp(-np.arange(burst) / (0.005 * sample_rate))
    noise = np.random.default_rng(7).uniform(-1.0, 1.0, burst) * decay
    track = np.zeros(index.size)
    if index.size:
        first, end = int(index[0]), int(index[-1]) + 1
        step = round(0.25 * sample_rate)
        for beat in range(max(0, (first - burst) // step), (end - 1) // step + 1):
            gain = 0.25 if beat % 2 == 0 else 0.12
            start = beat * step
            lo, hi = max(start, first), min(start + burst, end)
            if lo < hi:
                track[lo - first : hi - first] += noise[lo - start : hi - start] * gain
    return np.stack([track, 0.67 * track]).astype(np.float32)  # a little to the left
