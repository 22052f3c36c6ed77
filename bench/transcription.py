"""Benchmark every usable transcription engine on real and synthetic speech, one table.

Usage::

    .venv/bin/python bench/transcription.py [--real ../shared/eval/real/speech]
        [--synthetic ../shared/eval/speech] [--engine LABEL] [--no-detect] [--verbose]

Engines: ``pocketsphinx``, and ``transcription.faster_whisper`` with each Whisper model
installed in the models folder (``whisper-base``; ``whisper-tiny.en``, English only). One that
cannot run here is skipped with the reason. A file in a language an engine lacks is left out of
that engine's figures (shown as ``-``).

Data: the real set's ``manifest.tsv`` gives each file's language (``none`` for the
instrumentals); every ``*.wav`` of the synthetic set is English. Each file's reference text is
the ``.txt`` beside it. The language is given to the engine, as an order naming it would.

Scores follow the real set's scorer (``score_devset.py``): Unicode NFKC, lower case, punctuation
and symbols removed (an apostrophe inside a word kept). WER (words) for English, French and
Spanish; CER (characters, spaces and punctuation removed) for Chinese, on Simplified characters,
so Traditional output counts as errors. Each column is total errors over total reference tokens.
``music`` is the number of words (characters for Chinese text) output on the instrumentals,
which should be 0.

Speed, with every math library and the engine on one thread: ``load`` is the first call's
extra time over a warm one (model loading), ``RTF`` processing time over audio time on the real
and synthetic speech, warm. ``detect`` (multilingual engines) is the median, over the real
speech files whose language is detected right, of the time of a run that detects the language
over a run with the language given (the same decoding, so the difference is the detection), and
``lang`` the share of the real speech files whose language was detected right.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from yinzi.engines.transcription.metrics import edit_distance, tokens  # noqa: E402
from yinzi.settings import Settings  # noqa: E402

Audio = npt.NDArray[np.float32]
BLOCK_SECONDS = 1.0
SHARED = REPO.parent / "shared" / "eval"
COLUMNS = ("en", "fr", "es", "zh", "music", "harvard")


@dataclass(frozen=True)
class Item:
    path: Path
    language: str  # "none" for an instrumental
    group: str  # a column of the table

    @property
    def reference(self) -> str:
        return self.path.with_suffix(".txt").read_text(encoding="utf-8")


@dataclass
class Score:
    errors: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    audio: float = 0.0
    detect_ratios: list[float] = field(default_factory=list)
    """Detecting over given, per file whose language was detected right (same decoding)."""
    detected_right: list[bool] = field(default_factory=list)

    def add(self, group: str, errors: int, total: int) -> None:
        self.errors[group] = self.errors.get(group, 0) + errors
        self.total[group] = self.total.get(group, 0) + total

    def cell(self, group: str) -> str:
        if group not in self.errors:
            return "-"
        if group == "music":
            return str(self.errors[group])
        return f"{self.errors[group] / max(1, self.total[group]):.3f}"


def dataset(real: Path, synthetic: Path) -> list[Item]:
    items = []
    manifest = real / "manifest.tsv"
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows, delimiter="\t"):
                language = row["language"]
                group = "music" if language == "none" else language
                items.append(Item(real / row["file"], language, group))
    items += [Item(path, "en", "harvard") for path in sorted(synthetic.glob("*.wav"))]
    return [item for item in items if item.path.with_suffix(".txt").is_file()]


def variants() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, engine, options) for each engine and installed model worth measuring."""
    settings = Settings()
    yield "pocketsphinx", "transcription.pocketsphinx", {}
    for model in ("base", "tiny.en"):
        options = {**settings.engine_options("transcription.faster_whisper"), "model": model}
        yield f"whisper-{model}", "transcription.faster_whisper", {**options, "cpu_threads": 1}


def blocks(audio: Audio, size: int) -> Iterator[Audio]:
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


def transcribe(engine: Any, audio: Audio, language: str | None) -> tuple[str, str, float]:
    """The text, the language reported, and the seconds it took."""
    size = int(engine.sample_rate * BLOCK_SECONDS)
    start = time.perf_counter()
    result = engine.transcribe(blocks(audio, size), language=language)
    text = " ".join(segment.text for segment in result.segments)
    return text, str(result.language), time.perf_counter() - start


def load_time(engine: Any) -> float:
    """The first call's extra time over a warm call, on one second of silence."""
    silence = np.zeros((1, int(engine.sample_rate)), np.float32)
    first = transcribe(engine, silence, "en")[2]
    return first - transcribe(engine, silence, "en")[2]


def measure(label: str, engine: Any, items: list[Item], verbose: bool, detect: bool) -> Score:
    score = Score()
    languages = set(engine.languages)
    for item in items:
        asked = None if item.language == "none" else item.language
        if asked is not None and asked not in languages:
            continue
        audio = media.read_all(item.path, sample_rate=engine.sample_rate, channels=1)
        text, _, seconds = transcribe(engine, audio, asked)
        chinese = item.language == "zh"
        ref, hyp = tokens(item.reference, chinese=chinese), tokens(text, chinese=chinese)
        errors = len(hyp) if item.group == "music" else edit_distance(ref, hyp)
        score.add(item.group, errors, len(ref))
        score.seconds += seconds
        score.audio += audio.shape[1] / engine.sample_rate
        if detect and asked is not None and item.group != "harvard" and len(languages) > 1:
            _, found, detect_seconds = transcribe(engine, audio, None)
            score.detected_right.append(found == asked)
            if found == asked:
                score.detect_ratios.append(detect_seconds / seconds)
        if verbose:
            print(f"  {label:<16}{item.path.stem:<26}{errors:>4}/{len(ref):<4} {text}")
    return score


def print_table(rows: list[tuple[str, float, Score]]) -> None:
    head = f"{'engine':<18}{'load s':>7}" + "".join(f"{c:>9}" for c in COLUMNS)
    head += f"{'RTF 1 core':>12}{'detect':>8}{'lang':>7}"
    print("\nWER (en fr es harvard), CER (zh), words output on instrumentals (music)")
    print(head)
    print("-" * len(head))
    for label, load, score in rows:
        line = f"{label:<18}{load:7.2f}" + "".join(f"{score.cell(c):>9}" for c in COLUMNS)
        line += f"{score.seconds / max(score.audio, 1e-9):12.3f}"
        if score.detect_ratios:
            ratio = float(np.median(score.detect_ratios))
            right = sum(score.detected_right) / len(score.detected_right)
            line += f"{ratio:7.2f}x{right:7.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=SHARED / "real" / "speech")
    parser.add_argument("--synthetic", type=Path, default=SHARED / "speech")
    parser.add_argument("--engine", default=None, help="only this label, e.g. whisper-base")
    parser.add_argument("--no-detect", action="store_true", help="skip the detection runs")
    parser.add_argument("--verbose", action="store_true", help="print each hypothesis")
    args = parser.parse_args()
    items = dataset(args.real.resolve(), args.synthetic.resolve())
    if not items:
        raise SystemExit(f"no speech with references in {args.real} or {args.synthetic}")
    rows = []
    for label, name, options in variants():
        if args.engine is not None and label != args.engine:
            continue
        problem = registry.check(name, options)
        if problem is not None:
            print(f"skipping {label}: {problem}")
            continue
        try:
            engine = registry.load(name, "transcription", **options)
            load = load_time(engine)
            score = measure(label, engine, items, args.verbose, not args.no_detect)
        except Exception as exc:  # a bench reports any failure and goes on
            print(f"skipping {label}: {type(exc).__name__}: {exc}")
            continue
        rows.append((label, load, score))
    print_table(rows)


if __name__ == "__main__":
    main()
