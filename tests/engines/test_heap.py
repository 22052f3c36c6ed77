"""Freed memory handed back to the system (glibc), so long jobs do not creep up."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.engines import _heap


def test_free_memory_goes_back_to_the_system() -> None:
    if not _heap.release_free_memory():
        pytest.skip("not glibc: nothing to hand back")
    status = Path("/proc/self/status")

    def resident() -> int:
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024

    pieces = [bytearray(100_000) for _ in range(1000)]  # under the mmap threshold: the heap
    kept = pieces[::10]  # every tenth stays, so the rest is free space inside the heap
    del pieces
    before = resident()
    _heap.release_free_memory()
    assert before - resident() > 40_000_000
    assert len(kept) == 100
