"""Writing audio: a streaming encoder for the formats Yinzi hands back (MP3, WAV, FLAC).

Invariants:

- Input is float32 ``(channels, n)`` blocks of any length; samples are clipped to [-1, 1] and
  NaN becomes silence, so a misbehaving model cannot produce a broken file.
- WAV and FLAC store 16-bit PCM, which is what the results are distributed as; a sample ``x``
  is stored as ``round(x * 32768)`` (clipped to the 16-bit range), so decoding gives back exactly
  that quantised value, whatever the block sizes written.
- MP3 is CBR at ``bitrate`` (192 kbit/s by default), joint stereo, LAME quality ``-q 3`` (LAME's
  own default: the same quality as before at a third of the time, see ``bench/mp3.py``; ``-q 5``
  saves little and ``-q 7`` drops noise shaping). LAME's C API is called directly
  (:mod:`yinzi.media._lame`, which says why), and the file starts with LAME's tag frame, which
  records the encoder delay and padding; ffmpeg (hence :func:`~yinzi.media.read_blocks`) and
  gapless players trim them, so an MP3 decodes to exactly the number of samples written.
- Encoders that need fixed frame sizes (MP3's 1152 samples, FLAC's blocks) buffer the input
  themselves (LAME, or PyAV for WAV and FLAC); the caller never thinks about frame sizes.
- Encoding releases the GIL, so writers in several threads run in parallel
  (:class:`~yinzi.media.StemWriter` does that).
- A writer that fails, or leaves a ``with`` block by an exception, removes its partial file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Literal, Protocol, Self, cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer

from yinzi.errors import YinziError
from yinzi.media import _lame

OutputFormat = Literal["mp3", "wav", "flac"]

CONTENT_TYPES: Final[dict[str, str]] = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
}
MP3_QUALITY: Final = 3
"""LAME's ``-q`` (0 best .. 9 fastest); bench/mp3.py measures the others."""


@dataclass(frozen=True, slots=True)
class _Codec:
    muxer: str
    encoder: str
    sample_format: str  # what the encoder is fed; PyAV converts our planar float to it


_PCM_CODECS: Final[dict[str, _Codec]] = {
    "wav": _Codec("wav", "pcm_s16le", "s16"),
    "flac": _Codec("flac", "flac", "s16"),
}
_FORMATS: Final = ("mp3", *_PCM_CODECS)
_LAYOUTS: Final = {1: "mono", 2: "stereo"}
_ENCODER_ERRORS: Final = (av.FFmpegError, _lame.LameError)


class _Sink(Protocol):
    """An open encoder and its file: takes clean float32 samples."""

    def write(self, samples: npt.NDArray[np.float32], pts: int) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class AudioWriter:
    """Encode audio to ``path`` block by block; use it as a context manager.

    ``bitrate`` (bits per second) applies to MP3 only. Invalid arguments raise ``ValueError``;
    an encoder failure raises :class:`~yinzi.errors.YinziError` (it is our fault, not the
    user's) and a disk failure its ``OSError``, both after removing the partial file.
    """

    def __init__(
        self,
        path: Path,
        *,
        format: OutputFormat,
        sample_rate: int = 44100,
        channels: int = 2,
        bitrate: int = 192_000,
    ) -> None:
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {sorted(_FORMATS)}, got {format!r}")
        if channels not in _LAYOUTS:
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        if sample_rate <= 0 or bitrate <= 0:
            raise ValueError("sample_rate and bitrate must be positive")
        self.path = path
        self.format: OutputFormat = format
        self.sample_rate = sample_rate
        self.channels = channels
        self._written = 0
        self._sink: _Sink | None = None
        with self._removing_file_on_error(f"start a {format} encoder"):
            if format == "mp3":
                self._sink = _LameSink(path, sample_rate, channels, bitrate)
            else:
                self._sink = _PyAVSink(path, _PCM_CODECS[format], sample_rate, channels)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def samples_written(self) -> int:
        """Samples per channel written so far."""
        return self._written

    def write(self, block: npt.NDArray[np.float32]) -> None:
        """Append ``block``, shaped ``(channels, n)``; ``n`` may be anything, 0 included."""
        if self._sink is None:
            raise ValueError("the writer is closed")
        check_block(block, self.channels)
        if block.shape[1] == 0:
            return
        samples = np.nan_to_num(np.asarray(block, dtype=np.float32), nan=0.0)
        np.clip(samples, -1.0, 1.0, out=samples)
        pts, self._written = self._written, self._written + block.shape[1]
        with self._removing_file_on_error(f"encode {self.format} audio"):
            assert self._sink is not None
            self._sink.write(samples, pts)

    def close(self) -> None:
        """Flush the encoder and finish the file; closing twice is harmless."""
        if self._sink is None:
            return
        with self._removing_file_on_error(f"finish the {self.format} file"):
            self._sink.close()
        self._sink = None

    def abort(self) -> None:
        """Stop and remove the file, finished or not; harmless at any time."""
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.abort()
        self.path.unlink(missing_ok=True)

    @contextmanager
    def _removing_file_on_error(self, doing: str) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            self.abort()
            if isinstance(exc, _ENCODER_ERRORS) and not isinstance(exc, OSError):
                raise YinziError(f"could not {doing}") from exc
            raise  # bad arguments, a full disk, an interrupt: as they are


def check_block(block: npt.NDArray[np.float32], channels: int) -> None:
    """Raise ``ValueError`` unless ``block`` is shaped ``(channels, n)``."""
    if block.ndim != 2 or block.shape[0] != channels:
        raise ValueError(f"expected a ({channels}, n) array, got shape {block.shape}")


class _PyAVSink:
    """WAV and FLAC through ffmpeg's encoder and muxer."""

    def __init__(self, path: Path, codec: _Codec, sample_rate: int, channels: int) -> None:
        self._layout = _LAYOUTS[channels]
        self._rate = sample_rate
        self._container: OutputContainer = av.open(str(path), "w", format=codec.muxer)
        try:
            stream = cast(AudioStream, self._container.add_stream(codec.encoder, rate=sample_rate))
            stream.layout = self._layout
            stream.format = codec.sample_format
            self._stream = stream
            self._container.start_encoding()  # opens the encoder and the file: fail fast
        except BaseException:
            self.abort()
            raise

    def write(self, samples: npt.NDArray[np.float32], pts: int) -> None:
        frame = AudioFrame.from_ndarray(samples, format="fltp", layout=self._layout)
        frame.sample_rate = self._rate
        frame.time_base = Fraction(1, self._rate)
        frame.pts = pts
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def abort(self) -> None:
        try:
            self._container.close()
        except (av.FFmpegError, OSError):
            pass  # the file is going anyway; the error that brought us here matters more


class _LameSink:
    """MP3: LAME's frames appended to the file, its tag frame written over the first at the end."""

    def __init__(self, path: Path, sample_rate: int, channels: int, bitrate: int) -> None:
        self._encoder = _lame.Encoder(
            sample_rate=sample_rate, channels=channels, bitrate=bitrate, quality=MP3_QUALITY
        )
        try:
            self._file: BinaryIO = path.open("wb")
        except BaseException:
            self._encoder.close()
            raise

    def write(self, samples: npt.NDArray[np.float32], pts: int) -> None:
        self._file.write(self._encoder.encode(samples))

    def close(self) -> None:
        self._file.write(self._encoder.flush())
        self._file.seek(0)
        self._file.write(self._encoder.tag())
        self._file.close()
        self._encoder.close()

    def abort(self) -> None:
        self._encoder.close()
        self._file.close()


def write_audio(
    path: Path,
    audio: npt.NDArray[np.float32],
    *,
    format: OutputFormat,
    sample_rate: int = 44100,
    bitrate: int = 192_000,
) -> None:
    """Encode a whole ``(channels, n)`` array to ``path`` in one go."""
    if audio.ndim != 2:
        raise ValueError(f"expected a (channels, n) array, got shape {audio.shape}")
    channels = audio.shape[0]
    with AudioWriter(
        path, format=format, sample_rate=sample_rate, channels=channels, bitrate=bitrate
    ) as writer:
        writer.write(audio)
