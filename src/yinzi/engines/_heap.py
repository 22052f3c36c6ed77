"""Handing freed memory back to the system between the windows of a long job (glibc only).

glibc keeps what a program frees for its next allocations rather than returning it, and it
allocates from one arena per thread that asks. Engines that run native libraries on several
threads (CTranslate2's OpenMP threads, ONNX Runtime) free a window's buffers into several arenas,
where pages that are only partly reused stay resident; each window then starts from a larger
resident set, and the peak creeps up with the length of the input though nothing is kept
(faster-whisper: +110 MB over 16 minutes of speech, see ``bench/memory.py``). ``malloc_trim(0)``
returns every wholly free page of every arena to the system, in a few milliseconds.

Elsewhere (musl, macOS) :func:`release_free_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    function: Callable[[int], int] = trim
    return function


def release_free_memory() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
