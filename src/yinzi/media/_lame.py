"""LAME's C API through ctypes: the MP3 encoder behind :class:`~yinzi.media.AudioWriter`.

Why not the usual wrappers (figures from ``bench/mp3.py``):

- PyAV's ``libmp3lame`` encoder runs the LAME built into PyAV's wheel, which is compiled without
  LAME's optimisations: about a third of the speed of LAME built with them (whose files decode
  to the very same samples). PyAV itself costs next to nothing.
- ``lameenc``'s Python API ships that optimised build, but forces plain (L/R) stereo, which at
  192 kbit/s leaves about 5 dB more noise between 1 and 4 kHz than joint stereo, and it writes
  no LAME tag, so players cannot trim the encoder delay.

So this module calls LAME's own API in the library ``lameenc`` ships (its extension module
exports it), falling back to PyAV's bundled ``libmp3lame`` and then to a system one: the same API
and the same output, only slower. ctypes releases the GIL for each call, so encoders in several
threads run in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

_JOINT_STEREO: Final = 1  # LAME's MPEG_mode values
_MONO: Final = 3
_MAX_BLOCK: Final = 1 << 16  # samples per call, so the output buffer stays small
_TAG_BYTES: Final = 2880  # larger than any MPEG-1 layer III frame, which holds the tag
_SETUP: Final = threading.Lock()  # lame_init_params fills tables shared by every encoder

_c_float_p = ctypes.POINTER(ctypes.c_float)
_c_int, _c_void_p, _c_char_p = ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
_PROTOTYPES: Final = {
    # name: (result, arguments); every setter takes (flags, value) and returns 0 or an error
    "lame_init": (_c_void_p, []),
    "lame_set_num_channels": (_c_int, [_c_void_p, _c_int]),
    "lame_set_in_samplerate": (_c_int, [_c_void_p, _c_int]),
    "lame_set_out_samplerate": (_c_int, [_c_void_p, _c_int]),
    "lame_set_brate": (_c_int, [_c_void_p, _c_int]),
    "lame_set_mode": (_c_int, [_c_void_p, _c_int]),
    "lame_set_quality": (_c_int, [_c_void_p, _c_int]),
    "lame_set_bWriteVbrTag": (_c_int, [_c_void_p, _c_int]),
    "lame_init_params": (_c_int, [_c_void_p]),
    "lame_encode_buffer_ieee_float": (
        _c_int,
        [_c_void_p, _c_float_p, _c_float_p, _c_int, _c_char_p, _c_int],
    ),
    "lame_encode_flush": (_c_int, [_c_void_p, _c_char_p, _c_int]),
    "lame_get_lametag_frame": (ctypes.c_size_t, [_c_void_p, _c_char_p, ctypes.c_size_t]),
    "lame_close": (_c_int, [_c_void_p]),
}


def candidates() -> Iterator[str]:
    """Where LAME may be, fastest build first."""
    for module in ("lameenc", "av"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if module == "lameenc":
            yield str(origin)
        else:  # the wheel's bundled libraries sit beside the package
            yield from sorted(str(p) for p in origin.parent.parent.glob("av.libs/libmp3lame*"))
    system = ctypes.util.find_library("mp3lame")
    if system:
        yield system


class LameError(Exception):
    """LAME is missing, refused its settings or failed: the server's fault, never the user's."""


def load(path: str) -> ctypes.CDLL:
    """The LAME at ``path``, its functions typed; ``OSError`` or ``AttributeError`` otherwise."""
    lib = ctypes.CDLL(path)
    for name, (result, arguments) in _PROTOTYPES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = result, arguments
    return lib


@cache
def library() -> ctypes.CDLL:
    """The first LAME of :func:`candidates` that loads."""
    for path in candidates():
        try:
            return load(path)
        except (OSError, AttributeError):
            continue
    raise LameError("no LAME library found (pip install lameenc)")


class Encoder:
    """One CBR MP3 stream; :meth:`encode` and :meth:`flush` return the bytes to append.

    After :meth:`flush`, :meth:`tag` gives the LAME tag frame that replaces the first frame of
    the stream (LAME reserves it): it records the encoder delay and padding, so decoders trim
    them and the file decodes to exactly the samples encoded.
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        channels: int,
        bitrate: int,
        quality: int,
        lib: ctypes.CDLL | None = None,
    ) -> None:
        self._lib = lib or library()
        with _SETUP:
            self._flags: int | None = self._setup(sample_rate, channels, bitrate, quality)

    def _setup(self, sample_rate: int, channels: int, bitrate: int, quality: int) -> int:
        flags = self._lib.lame_init()
        if not flags:
            raise MemoryError("LAME could not allocate an encoder")
        settings = [
            (self._lib.lame_set_num_channels, channels),
            (self._lib.lame_set_in_samplerate, sample_rate),
            (self._lib.lame_set_out_samplerate, sample_rate),  # never resample
            (self._lib.lame_set_brate, bitrate // 1000),
            (self._lib.lame_set_mode, _JOINT_STEREO if channels == 2 else _MONO),
            (self._lib.lame_set_quality, quality),
            (self._lib.lame_set_bWriteVbrTag, 1),
        ]
        if any(setter(flags, value) < 0 for setter, value in settings) or (
            self._lib.lame_init_params(flags) < 0
        ):
            self._lib.lame_close(flags)
            raise LameError(
                f"LAME refused {channels} channel(s) at {sample_rate} Hz, {bitrate} bit/s"
            )
        return int(flags)

    def encode(self, samples: npt.NDArray[np.float32]) -> bytes:
        """Encode ``(channels, n)`` float32 samples in [-1, 1]."""
        out = bytearray()
        for start in range(0, samples.shape[1], _MAX_BLOCK):
            block = np.ascontiguousarray(samples[:, start : start + _MAX_BLOCK])
            left, right = block[0], block[-1]  # mono: LAME reads the left channel only
            size = block.shape[1] * 5 // 4 + 7200  # LAME's documented worst case
            buffer = ctypes.create_string_buffer(size)
            written = self._lib.lame_encode_buffer_ieee_float(
                self._live(),
                left.ctypes.data_as(_c_float_p),
                right.ctypes.data_as(_c_float_p),
                block.shape[1],
                buffer,
                size,
            )
            out += self._take(buffer, written)
        return bytes(out)

    def flush(self) -> bytes:
        """The last frames, padded; nothing may be encoded after."""
        buffer = ctypes.create_string_buffer(7200)
        return self._take(buffer, self._lib.lame_encode_flush(self._live(), buffer, 7200))

    def tag(self) -> bytes:
        buffer = ctypes.create_string_buffer(_TAG_BYTES)
        size = self._lib.lame_get_lametag_frame(self._live(), buffer, _TAG_BYTES)
        if not 0 < size <= _TAG_BYTES:
            raise LameError("LAME made no tag frame")
        return ctypes.string_at(buffer, size)

    def close(self) -> None:
        """Free the encoder; closing twice is harmless."""
        flags, self._flags = self._flags, None
        if flags is not None:
            self._lib.lame_close(flags)

    def _live(self) -> int:
        if self._flags is None:
            raise ValueError("the LAME encoder is closed")
        return self._flags

    @staticmethod
    def _take(buffer: ctypes.Array[ctypes.c_char], written: int) -> bytes:
        if written < 0:
            raise LameError(f"LAME failed to encode (error {written})")
        return ctypes.string_at(buffer, written)
