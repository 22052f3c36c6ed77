"""Benchmark every usable transcription engine on the speech evaluation set.

Usage::

    .venv/bin/python bench/transcription.py [--data ../shared/eval/speech] [--engine NAME]

Each ``*.wav`` in the data folder has its reference text beside it (``*.txt``). Every engine of
the ``transcription`` family that can run here (``registry.check``) is constructed with its
defaults; one that fails to construct, or cannot find its model offline, is skipped with the
reason. Audio is decoded to 16 kHz mono by :mod:`yinzi.media` and fed in 1-second blocks.

WER is the word-level edit distance (substitutions + deletions + insertions) over the number of
reference words, after normalising both texts: lower case, punctuation removed (apostrophes
kept), whitespace collapsed. The real-time factor is processing time over audio time, measured
with every math library limited to one thread; it includes loading the model (once per file,
as a job would).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CT2_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: the RTF is measured on one core
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no downloads: an engine without its model is skipped

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from yinzi import media  # noqa: E402
from yinzi.engines import registry  # noqa: E402
from yinzi.engines.transcription.metrics import wer  # noqa: E402

Audio = npt.NDArray[np.float32]
BLOCK_SECONDS = 1.0


@dataclass(frozen=True)
class Row:
    name: str
    wer: float
    rtf: float
    hypothesis: str = ""


def blocks(audio: Audio, size: int) -> Iterator[Audio]:
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


def run_file(engine: Any, path: Path) -> Row:
    rate = int(engine.sample_rate)
    audio = media.read_all(path, sample_rate=rate, channels=1)
    start = time.perf_counter()
    result = engine.transcribe(blocks(audio, int(rate * BLOCK_SECONDS)), language="en")
    text = " ".join(segment.text for segment in result.segments)
    elapsed = time.perf_counter() - start
    reference = path.with_suffix(".txt").read_text(encoding="utf-8")
    return Row(path.stem, wer(reference, text), elapsed * rate / audio.shape[1], text)


def usable_engines(only: str | None) -> Iterator[tuple[str, Any]]:
    for name, spec in sorted(registry.ENGINES.items()):
        if spec.family != "transcription" or (only is not None and name != only):
            continue
        problem = registry.check(name)
        if problem is not None:
            print(f"skipping {name}: {problem}")
            continue
        try:
            yield name, registry.load(name, "transcription")
        except Exception as exc:  # a bench reports any failure and goes on
            print(f"skipping {name}: cannot be constructed: {exc}")


def print_table(name: str, rows: list[Row], verbose: bool) -> None:
    print(f"\n{name}  (WER normalised; RTF on one core, model load included)")
    header = f"{'file':<14}{'WER':>8}{'RTF':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.name:<14}{row.wer:8.3f}{row.rtf:8.3f}")
        if verbose:
            print(f"    {row.hypothesis}")
    print("-" * len(header))
    mean_wer = float(np.mean([r.wer for r in rows]))
    mean_rtf = float(np.mean([r.rtf for r in rows]))
    print(f"{'mean':<14}{mean_wer:8.3f}{mean_rtf:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "eval" / "speech")
    parser.add_argument("--engine", default=None, help="benchmark only this engine")
    parser.add_argument("--verbose", action="store_true", help="print each hypothesis")
    args = parser.parse_args()
    files = sorted(p for p in args.data.resolve().glob("*.wav") if p.with_suffix(".txt").exists())
    if not files:
        raise SystemExit(f"no *.wav with a *.txt beside it in {args.data}")
    for name, engine in usable_engines(args.engine):
        try:
            rows = [run_file(engine, path) for path in files]
        except Exception as exc:  # e.g. a model that is not available offline
            print(f"skipping {name}: {type(exc).__name__}: {exc}")
            continue
        print_table(name, rows, args.verbose)


if __name__ == "__main__":
    main()
