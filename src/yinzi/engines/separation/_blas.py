"""How many threads numpy's BLAS may use, set around a piece of work.

Matrix products in numpy run on OpenBLAS, which starts one thread per core unless told otherwise;
several workers each doing that oversubscribe the machine. OpenBLAS reads its environment
variables only when it is loaded, so `limit` calls its ``set_num_threads`` function directly,
through ctypes, on every OpenBLAS the process has loaded (found in ``/proc/self/maps``; numpy's
wheels name its symbols ``scipy_openblas_*64_``), and restores the previous count afterwards.
Where none can be found (another BLAS, another OS) it does nothing: the work still runs, only
with the BLAS's own thread count.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

_PREFIXES = ("openblas_", "scipy_openblas_")
_SUFFIXES = ("", "64_")


@contextmanager
def limit(threads: int) -> Iterator[None]:
    """Run the body with every loaded OpenBLAS limited to ``threads`` threads."""
    controls = _controls()
    before = [get() for get, _ in controls]
    for _, set_threads in controls:
        set_threads(max(1, threads))
    try:
        yield
    finally:
        for (_, set_threads), count in zip(controls, before, strict=True):
            set_threads(count)


@cache
def _controls() -> list[tuple[Any, Any]]:
    """The ``(get_num_threads, set_num_threads)`` pair of each loaded OpenBLAS (numpy's is
    loaded with numpy, so the first look, made after that, finds it)."""
    controls = []
    for path in _loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(library, f"{prefix}get_num_threads{suffix}", None)
                set_threads = getattr(library, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and set_threads is not None:
                    get.restype = ctypes.c_int
                    set_threads.argtypes = [ctypes.c_int]
                    controls.append((get, set_threads))
                    break
            else:
                continue
            break
    return controls


def _loaded_openblas() -> list[str]:
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    paths = {line.split()[-1] for line in maps.read_text().splitlines() if "openblas" in line}
    return sorted(path for path in paths if path.startswith("/"))
