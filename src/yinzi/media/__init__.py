"""Media I/O: probe and decode audio with PyAV (ffmpeg), encode it with PyAV and LAME.

``check_audio`` (cheap, for uploads), ``probe`` and ``read_blocks`` accept anything ffmpeg reads,
video containers included; ``AudioWriter`` writes the formats Yinzi hands back (MP3, WAV, FLAC),
and ``StemWriter`` several such files at once, each encoded in its own thread.
A file the user sent that cannot be used raises :class:`~yinzi.errors.MediaError` with a reason
fit to show them.
Synthetic files for tests and benchmarks are in :mod:`yinzi.media.testing`.

PyAV keeps ffmpeg's own log quiet by default (``av.logging`` level ``None``); nothing here
changes that process-wide setting.
"""

from __future__ import annotations

from yinzi.media.decode import AudioInfo, check_audio, probe, read_all, read_blocks
from yinzi.media.encode import CONTENT_TYPES, AudioWriter, OutputFormat, write_audio
from yinzi.media.stems import StemWriter

__all__ = [
    "CONTENT_TYPES",
    "AudioInfo",
    "AudioWriter",
    "OutputFormat",
    "StemWriter",
    "check_audio",
    "probe",
    "read_all",
    "read_blocks",
    "write_audio",
]
