"""Writing audio: a streaming encoder for the formats Yinzi hands back (MP3, WAV, FLAC).

Invariants:

- Input is float32 ``(channels, n)`` blocks of any length; samples are clipped to [-1, 1] and
  NaN becomes silence, so a misbehaving model cannot produce a broken file.
- WAV and FLAC store 16-bit PCM, which is what the results are distributed as; a sample ``x``
  is stored as ``round(x * 32768)`` (clipped to the 16-bit range), so decoding gives back exactly
  that quantised value, whatever the block sizes written.
- MP3 is CBR at ``bitrate`` through LAME. Its encoder delay and padding are recorded in the
  LAME/Xing header that ffmpeg's muxer writes; ffmpeg (hence :func:`~yinzi.media.read_blocks`)
  and gapless players trim them, so an MP3 decodes to exactly the number of samples written.
- Encoders that need fixed frame sizes (MP3's 1152 samples, FLAC's blocks) get them from PyAV,
  which buffers the input internally; the caller never thinks about frame sizes.
- A writer that fails, or leaves a ``with`` block by an exception, removes its partial file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self, cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer

from yinzi.errors import YinziError

OutputFormat = Literal["mp3", "wav", "flac"]

CONTENT_TYPES: Final[dict[str, str]] = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
}


@dataclass(frozen=True, slots=True)
class _Codec:
    muxer: str
    encoder: str
    sample_format: str  # what the encoder is fed; PyAV converts our planar float to it


_CODECS: Final[dict[str, _Codec]] = {
    "mp3": _Codec("mp3", "libmp3lame", "fltp"),
    "wav": _Codec("wav", "pcm_s16le", "s16"),
    "flac": _Codec("flac", "flac", "s16"),
}
_LAYOUTS: Final = {1: "mono", 2: "stereo"}


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
        if format not in _CODECS:
            raise ValueError(f"format must be one of {sorted(_CODECS)}, got {format!r}")
        if channels not in _LAYOUTS:
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        if sample_rate <= 0 or bitrate <= 0:
            raise ValueError("sample_rate and bitrate must be positive")
        self.path = path
        self.format: OutputFormat = format
        self.sample_rate = sample_rate
        self.channels = channels
        self._written = 0
        self._container: OutputContainer | None = None
        codec = _CODECS[format]
        with self._removing_file_on_error(f"start a {format} encoder"):
            self._container = av.open(str(path), "w", format=codec.muxer)
            stream = self._container.add_stream(codec.encoder, rate=sample_rate)
            self._stream = cast(AudioStream, stream)
            self._stream.layout = _LAYOUTS[channels]
            self._stream.format = codec.sample_format
            if format == "mp3":
                self._stream.bit_rate = bitrate
            self._container.start_encoding()  # opens the encoder and the file: fail fast

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
            self._abort()

    @property
    def samples_written(self) -> int:
        """Samples per channel written so far."""
        return self._written

    def write(self, block: npt.NDArray[np.float32]) -> None:
        """Append ``block``, shaped ``(channels, n)``; ``n`` may be anything, 0 included."""
        if self._container is None:
            raise ValueError("the writer is closed")
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected a ({self.channels}, n) array, got shape {block.shape}")
        if block.shape[1] == 0:
            return
        samples = np.nan_to_num(np.asarray(block, dtype=np.float32), nan=0.0)
        np.clip(samples, -1.0, 1.0, out=samples)
        frame = AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format="fltp", layout=_LAYOUTS[self.channels]
        )
        frame.sample_rate = self.sample_rate
        frame.time_base = Fraction(1, self.sample_rate)
        frame.pts = self._written
        self._written += block.shape[1]
        self._encode(frame)

    def close(self) -> None:
        """Flush the encoder and finish the file; closing twice is harmless."""
        if self._container is None:
            return
        with self._removing_file_on_error(f"finish the {self.format} file"):
            self._container.mux(self._stream.encode(None))
            self._container.close()
        self._container = None

    def _encode(self, frame: AudioFrame) -> None:
        assert self._container is not None
        with self._removing_file_on_error(f"encode {self.format} audio"):
            self._container.mux(self._stream.encode(frame))

    @contextmanager
    def _removing_file_on_error(self, doing: str) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            self._abort()
            if isinstance(exc, av.FFmpegError) and not isinstance(exc, OSError):
                raise YinziError(f"could not {doing}") from exc
            raise  # bad arguments, a full disk, an interrupt: as they are

    def _abort(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError):
                pass  # the file is going anyway; the error that brought us here matters more
        self.path.unlink(missing_ok=True)


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
