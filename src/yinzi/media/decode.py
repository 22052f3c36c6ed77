"""Reading audio from any file ffmpeg understands: probe it, then stream it as float32 blocks.

Invariants:

- A failure caused by the file's content surfaces as :class:`~yinzi.errors.MediaError` whose
  message is a short reason fit to show the user (and to record as an order's failure reason);
  PyAV's exception is chained as ``__cause__``. Errors from the disk itself (``OSError``, which
  PyAV's I/O errors also are) are not the user's fault and propagate unchanged.
- :func:`read_blocks` holds about one block plus one decoded frame in memory, whatever the length
  of the file; nothing here materialises a whole file except :func:`read_all`, by request.
- Blocks are ``float32`` arrays shaped ``(channels, n)``, C-contiguous, as decoded (not clipped).

Truncation policy. What a cut-off file yields depends on its format, and we let the decoder judge:

- MP4/M4A/MOV whose index (``moov`` atom, written last) is lost, Ogg (ffmpeg reads the last page
  to learn the length) and files whose header is cut fail to open: "the file is truncated or
  corrupt". A file that opens like none of the formats we know is "not a readable audio or video
  file" instead.
- FLAC cut mid-frame fails while decoding: "the file is truncated or corrupt after 12.3 s".
  :func:`probe` decodes only the first second, so it catches gross damage cheaply; damage further
  in is found by :func:`read_blocks`.
- MP3, WAV and Matroska/WebM are streams of self-contained frames; cut anywhere, they decode as a
  valid shorter file, and are processed as such. :func:`probe` still reports the duration the
  headers declare, so anything billed by duration should count the samples actually decoded.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition

from yinzi.errors import MediaError

Audio = npt.NDArray[np.float32]

# Leading bytes of containers we know; a file that starts like one but will not open is damaged
# rather than "not media" ("ftyp" sits at offset 4 in MP4/M4A/MOV).
_SIGNATURES = (b"ID3", b"fLaC", b"OggS", b"RIFF", b"\x1a\x45\xdf\xa3", b"FORM", b"caff")
_PROBE_SECONDS = 1.0  # how much audio probe() decodes to check the file is not grossly damaged


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What :func:`probe` learns about a file's first audio stream."""

    duration: float  # seconds, as the headers declare; counted by decoding where they do not
    sample_rate: int  # of the decoded audio (HE-AAC decodes at twice its core rate)
    channels: int
    codec: str  # ffmpeg's codec name: "mp3", "aac", "flac", "pcm_s16le", "opus", "vorbis"...
    container: str  # ffmpeg's demuxer name: "mp3", "wav", "mov,mp4,m4a,3gp,3g2,mj2"...
    has_video: bool  # a real video stream; cover art attached to a song does not count


def probe(path: Path) -> AudioInfo:
    """Describe ``path``'s first audio stream, or raise :class:`MediaError` saying why we can't."""
    with _open_input(path) as container:
        stream = _audio_stream(container)
        declared = _declared_duration(container, stream)
        reader = _FrameReader(container, stream)
        first = _decode_head(reader, declared)
        duration = reader.seconds if declared is None else declared
        if duration <= 0:
            raise MediaError("the audio has zero duration")
        return AudioInfo(
            duration=duration,
            sample_rate=first.sample_rate,
            channels=first.layout.nb_channels,
            codec=stream.codec_context.codec.canonical_name,
            container=container.format.name,
            has_video=any(
                not s.disposition & Disposition.attached_pic for s in container.streams.video
            ),
        )


def check_audio(path: Path) -> None:
    """Raise :class:`MediaError` unless ``path`` opens as media with an audio stream whose first
    frame decodes. Cheap whatever the file's size: nothing past that frame is read or decoded
    (damage further in is :func:`probe`'s and :func:`read_blocks`'s to find)."""
    with _open_input(path) as container:
        reader = _FrameReader(container, _audio_stream(container))
        with _decoding(reader), closing(iter(reader)) as frames:
            if next(frames, None) is None:
                raise MediaError("the audio has zero duration")


def read_blocks(
    path: Path,
    *,
    sample_rate: int = 44100,
    channels: int | None = 2,
    block_seconds: float = 5.0,
) -> Generator[Audio, None, None]:
    """Decode ``path``'s first audio stream as ``(channels, n)`` float32 blocks.

    The audio is resampled to ``sample_rate`` and mixed to ``channels``: 1 averages the sides, 2
    copies a mono source to both sides at full level, ``None`` keeps mono and stereo as they are;
    sources with more than two channels are first downmixed to stereo with ffmpeg's standard
    matrix. Every block holds ``block_seconds`` of audio except the last, which may be shorter.

    Arguments are checked at once (``ValueError``); the file is opened on the first ``next()``
    and closed when the generator is exhausted or closed.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if channels not in (None, 1, 2):
        raise ValueError(f"channels must be 1, 2 or None, got {channels}")
    block = round(block_seconds * sample_rate)
    if block < 1:
        raise ValueError(f"block_seconds must hold at least one sample, got {block_seconds}")
    return _read_blocks(path, sample_rate, channels, block)


def read_all(path: Path, *, sample_rate: int = 44100, channels: int | None = 2) -> Audio:
    """Decode the whole of ``path`` into one array; for short files (tests, benchmarks)."""
    blocks = list(read_blocks(path, sample_rate=sample_rate, channels=channels, block_seconds=60))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)


# -- internals --------------------------------------------------------------------------------


def _read_blocks(
    path: Path, sample_rate: int, channels: int | None, block: int
) -> Generator[Audio, None, None]:
    with _open_input(path) as container:
        reader = _FrameReader(container, _audio_stream(container))
        pending: list[Audio] = []
        queued = 0
        produced = 0
        with _decoding(reader):
            for chunk in _Converter(sample_rate, channels).convert(reader):
                pending.append(chunk)
                queued += chunk.shape[1]
                while queued >= block:
                    joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
                    rest = joined[:, block:]
                    pending, queued = ([rest] if rest.shape[1] else []), rest.shape[1]
                    produced += block
                    yield np.ascontiguousarray(joined[:, :block])
        if queued:
            produced += queued
            yield np.ascontiguousarray(np.concatenate(pending, axis=1))
        if produced == 0:
            raise MediaError("the audio has zero duration")


def _open_input(path: Path) -> InputContainer:
    if path.stat().st_size == 0:
        raise MediaError("the file is empty")
    try:
        return av.open(str(path))
    except OSError:
        raise
    except av.FFmpegError as exc:
        with path.open("rb") as file:
            head = file.read(12)
        damaged = head.startswith(_SIGNATURES) or head[4:8] == b"ftyp"
        reason = "the file is truncated or corrupt" if damaged else None
        raise MediaError(reason or "not a readable audio or video file") from exc


def _audio_stream(container: InputContainer) -> AudioStream:
    if not container.streams.audio:
        raise MediaError("the file has no audio stream")
    return container.streams.audio[0]


def _declared_duration(container: InputContainer, stream: AudioStream) -> float | None:
    """The audio's length from the headers: the stream's own, else the container's."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _decode_head(reader: _FrameReader, declared: float | None) -> AudioFrame:
    """Decode the first second (all of it if no header says how long it is); the first frame."""
    with _decoding(reader), closing(iter(reader)) as frames:
        first = next(frames, None)
        if first is None:
            damaged = declared is not None and declared > 0
            raise MediaError(
                "the file is truncated or corrupt" if damaged else "the audio has zero duration"
            )
        for _ in frames:
            if declared is not None and reader.seconds >= _PROBE_SECONDS:
                break
        return first


class _FrameReader:
    """Decodes one audio stream, keeping count of how many seconds came out intact."""

    def __init__(self, container: InputContainer, stream: AudioStream) -> None:
        self._container = container
        self._stream = stream
        self.seconds = 0.0

    def __iter__(self) -> Generator[AudioFrame, None, None]:
        for frame in self._container.decode(self._stream):
            self.seconds += frame.samples / frame.sample_rate
            yield frame


@contextmanager
def _decoding(reader: _FrameReader) -> Iterator[None]:
    """Turn ffmpeg's complaints about the file's content into a MediaError saying where."""
    try:
        yield
    except OSError:
        raise  # the disk, not the file's content
    except av.FFmpegError as exc:
        where = f"{reader.seconds:.1f} s"
        raise MediaError(f"the file is truncated or corrupt after {where}") from exc


class _Converter:
    """Resamples decoded frames to planar float at one rate and mixes them to one channel count.

    The source may change format, layout or rate mid-stream (chained Ogg, concatenated MP3);
    each change drains the current resampler and starts a new one, so output stays continuous.
    """

    def __init__(self, sample_rate: int, channels: int | None) -> None:
        self._rate = sample_rate
        self._channels = channels
        self._resampler: AudioResampler | None = None
        self._source: tuple[str, str, int] | None = None

    def convert(self, frames: Iterable[AudioFrame]) -> Iterator[Audio]:
        for frame in frames:
            source = (frame.format.name, frame.layout.name, frame.sample_rate)
            if source != self._source:
                yield from self._resample(None)
                self._start(frame)
                self._source = source
            yield from self._resample(frame)
        yield from self._resample(None)

    def _start(self, frame: AudioFrame) -> None:
        count = frame.layout.nb_channels
        if self._channels is None:
            self._channels = 1 if count == 1 else 2
        # ffmpeg's mono<->stereo matrix loses 3 dB, so _mix does those; ffmpeg downmixes surround,
        # scaled (as it does for integer output) so that the sum of the channels cannot clip.
        self._resampler = AudioResampler(
            format="fltp",
            layout="mono" if count == 1 else "stereo",
            rate=self._rate,
            options={"rematrix_maxval": "1.0"} if count > 2 else None,
        )

    def _resample(self, frame: AudioFrame | None) -> Iterator[Audio]:
        if self._resampler is None:
            return
        for out in self._resampler.resample(frame):
            if out.samples:
                yield self._mix(np.asarray(out.to_ndarray(), dtype=np.float32))
        if frame is None:
            self._resampler = None

    def _mix(self, audio: Audio) -> Audio:
        if audio.shape[0] == self._channels:
            return audio
        if self._channels == 2:
            return np.repeat(audio, 2, axis=0)
        mono: Audio = audio.mean(axis=0, keepdims=True, dtype=np.float32)
        return mono
