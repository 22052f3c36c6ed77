"""One order on two cores, or two orders on one core each: which gets more audio through?

Usage::

    .venv/bin/python bench/threads.py [--seconds 60] [--cores 2] [--repeat 2]
        [--jobs spleeter,stems,whisper,music]

For each CPU engine on the default path, on the same input, three settings are timed, each
order in a fresh process whose engine is loaded and warmed up (on the input's first second)
before the clock starts:

- ``1 order, 1 thread``: the engine with one thread (``threads=1`` / ``cpu_threads=1``, every
  math library on one thread), the one-core real-time factor;
- ``1 order, N threads``: the same order with ``--cores`` threads (``YINZI_ENGINE_THREADS``);
- ``N orders, 1 thread each``: ``--cores`` processes at once, each running the order on one
  thread, timed until the last one is done.

Throughput is audio seconds processed per wall-clock second. Beside it, in brackets, the CPU
seconds the orders' processes used per wall second: less than the setting's threads when the
engine leaves some of them idle or the machine is busy with other work (threads that spin
while they wait count as busy). The first setting beside the second
says how much faster one order finishes with more threads; the second beside the third says
whether a machine with ``--cores`` cores gets more audio through as one worker with N engine
threads (``YINZI_WORKERS=1 YINZI_ENGINE_THREADS=N``) or as N workers with one thread each
(``YINZI_WORKERS=N YINZI_ENGINE_THREADS=1``). ``--repeat`` (default 2) runs every setting in
turn that many times and keeps each one's best run (the least disturbed, on a shared machine).

Jobs (the engines and options come from `Settings.engine_options`, as a worker's do):

- ``spleeter``: ``separation.spleeter``, vocals and accompaniment (``track-separation``);
- ``stems``: ``separation.spleeter``, every stem it gives (``split_stem``);
- ``whisper``: ``transcription.faster_whisper``, model ``base``, English given;
- ``music``: ``music.procedural``, 12-bar pieces (the longest order) until ``--seconds`` of
  music are made.

Inputs: the real recordings of ``../shared/eval/real`` (music clips for separation, the English
speech files for transcription), joined and cut to ``--seconds``; without them, the synthetic
song of `yinzi.media.testing` and the repository's speech fixture, repeated.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from yinzi import media  # noqa: E402
from yinzi.engines import registry  # noqa: E402
from yinzi.engines.music.base import MusicRequest  # noqa: E402
from yinzi.media import testing  # noqa: E402
from yinzi.settings import Settings  # noqa: E402

Audio = npt.NDArray[np.float32]
REAL = REPO.parent / "shared" / "eval" / "real"
SPEECH_FIXTURE = REPO / "tests" / "fixtures" / "speech" / "call_me_back.wav"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MUSIC_PROMPTS = (
    "happy pop song in G major",
    "sad piano ballad in E minor",
    "funk bass and drums in E minor",
    "calm ambient bells",
)
MUSIC_BARS = 12
PAIR = ("vocals", "accompaniment")


@dataclass(frozen=True)
class Job:
    label: str
    engine: str
    family: str
    stems: tuple[str, ...] = ()
    """Stems asked of a separation engine (empty: every stem it gives)."""


JOBS = {
    "spleeter": Job("spleeter track-separation", "separation.spleeter", "separation", PAIR),
    "stems": Job("spleeter stem split", "separation.spleeter", "separation"),
    "whisper": Job("faster-whisper base", "transcription.faster_whisper", "transcription"),
    "music": Job("procedural music", "music.procedural", "music"),
}


@dataclass(frozen=True)
class Setting:
    label: str
    orders: int
    threads: int


@dataclass(frozen=True)
class Timing:
    audio_seconds: float
    wall_seconds: float
    cpu_seconds: float
    """Of every order's process, all its threads, while it ran its order."""

    @property
    def throughput(self) -> float:
        return self.audio_seconds / self.wall_seconds

    @property
    def cores_busy(self) -> float:
        return self.cpu_seconds / self.wall_seconds

    def cell(self) -> str:
        return f"{self.throughput:.1f} ({self.cores_busy:.1f} cores)"


def options(job: Job, threads: int) -> dict[str, Any]:
    """The engine's options as a worker builds them, with ``threads`` threads."""
    chosen = dict(Settings().engine_options(job.engine))
    if job.engine == "transcription.faster_whisper":
        chosen.update(model="base", cpu_threads=threads)
    if "threads" in chosen:
        chosen["threads"] = threads
    return chosen


# -- inputs ---------------------------------------------------------------------------------


def joined(pieces: Iterator[Audio], samples: int) -> Audio:
    """``pieces`` one after the other, cycling them, cut to ``samples``."""
    cycle = list(pieces)
    parts: list[Audio] = []
    total = 0
    while total < samples:
        part = cycle[len(parts) % len(cycle)]
        parts.append(part)
        total += part.shape[1]
    return np.concatenate(parts, axis=1)[:, :samples]


def music_input(seconds: float, rate: int) -> Audio:
    clips = sorted((REAL / "music").glob("clip*/mixture.flac"))
    if not clips:
        vocals, accompaniment = testing.song_stems(seconds, rate)
        return vocals + accompaniment
    decoded = (media.read_all(clip, sample_rate=rate, channels=2) for clip in clips)
    return joined(decoded, round(seconds * rate))


def speech_input(seconds: float, rate: int) -> Audio:
    files = [SPEECH_FIXTURE]
    manifest = REAL / "speech" / "manifest.tsv"
    if manifest.is_file():
        with manifest.open(encoding="utf-8") as rows:
            table = list(csv.DictReader(rows, delimiter="\t"))
        english = [row["file"] for row in table if row["language"] == "en"]
        files = [REAL / "speech" / name for name in english] or files
    decoded = (media.read_all(path, sample_rate=rate, channels=1) for path in files)
    return joined(decoded, round(seconds * rate))


def blocks(audio: Audio, size: int) -> Iterator[Audio]:
    for start in range(0, audio.shape[1], size):
        yield audio[:, start : start + size]


# -- one order, in a child process ------------------------------------------------------------


def make_input(job: Job, engine: Any, seconds: float) -> Audio | None:
    """The order's input (None for music, which has none)."""
    rate = int(engine.sample_rate)
    if job.family == "separation":
        return music_input(seconds, rate)
    if job.family == "transcription":
        return speech_input(seconds, rate)
    return None


def run_order(job: Job, engine: Any, audio: Audio | None, seconds: float) -> float:
    """Run the job's order on ``audio`` (music: compose ``seconds`` of it); the seconds done."""
    rate = int(engine.sample_rate)
    if audio is None:
        done, seed = 0.0, 0
        while done < seconds:
            prompt = MUSIC_PROMPTS[seed % len(MUSIC_PROMPTS)]
            composition = engine.compose(MusicRequest(prompt, MUSIC_BARS, seed))
            done += sum(block.shape[1] for block in composition.blocks) / rate
            seed += 1
        return done
    if job.family == "separation":
        for _ in engine.separate(blocks(audio, rate), job.stems or engine.stems):
            pass
    else:
        list(engine.transcribe(blocks(audio, rate), language="en").segments)
    return float(audio.shape[1] / rate)


def child(job: Job, threads: int, seconds: float) -> None:
    """Load and warm the engine, say ``ready``, wait for ``go``, run the order, say how much
    audio it did."""
    engine = registry.load(job.engine, job.family, **options(job, threads))
    audio = make_input(job, engine, seconds)
    warm = None if audio is None else audio[:, : int(engine.sample_rate)]
    run_order(job, engine, warm, 1.0)  # loads the model, fills the caches
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.process_time()
    done = run_order(job, engine, audio, seconds)
    print(json.dumps({"audio": done, "cpu": time.process_time() - start}), flush=True)


# -- the settings, from the parent ---------------------------------------------------------------


def measure(name: str, setting: Setting, seconds: float) -> Timing:
    """Start ``setting.orders`` children, let them go together, time until the last is done."""
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(setting.threads))}
    command = [sys.executable, __file__, "--child", name, "--threads", str(setting.threads)]
    command += ["--seconds", str(seconds)]
    procs = [
        subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(setting.orders)
    ]
    try:
        for proc in procs:
            expect(proc, "ready")
        start = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = [json.loads(expect(proc, None)) for proc in procs]
        wall = time.perf_counter() - start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return Timing(
        sum(report["audio"] for report in reports), wall, sum(report["cpu"] for report in reports)
    )


def expect(proc: subprocess.Popen[str], word: str | None) -> str:
    """The child's next line (which must be ``word`` when given)."""
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line or (word is not None and line != word):
        proc.wait()
        raise RuntimeError(f"a bench child stopped (exit {proc.returncode}) instead of {word!r}")
    return line


def settings(cores: int) -> list[Setting]:
    return [
        Setting("1 order, 1 thread", 1, 1),
        Setting(f"1 order, {cores} threads", 1, cores),
        Setting(f"{cores} orders, 1 thread each", cores, 1),
    ]


def best(name: str, chosen: list[Setting], seconds: float, repeat: int) -> list[Timing]:
    """Each setting's best run of ``repeat`` rounds, each round running every setting in turn
    (so a busy spell on a shared machine falls on all of them alike)."""
    rounds = [[measure(name, setting, seconds) for setting in chosen] for _ in range(repeat)]
    return [max(runs, key=lambda t: t.throughput) for runs in zip(*rounds, strict=True)]


def verdict(one_order: Timing, many_orders: Timing, cores: int) -> str:
    ratio = many_orders.throughput / one_order.throughput
    if ratio >= 1:
        return f"{cores} workers x 1 thread ({ratio:.2f}x)"
    return f"1 worker x {cores} threads ({1 / ratio:.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per order")
    parser.add_argument("--cores", type=int, default=2, help="threads, and orders at once")
    parser.add_argument("--repeat", type=int, default=2, help="keep the best of this many runs")
    parser.add_argument("--jobs", default=",".join(JOBS), help=f"some of {', '.join(JOBS)}")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(JOBS[args.child], args.threads, args.seconds)
        return
    chosen = settings(args.cores)
    title = (
        f"Audio seconds per wall second (CPU seconds per wall second), {args.seconds:g} s per "
        f"order, {os.cpu_count()} CPUs"
    )
    table = Table(title=title)
    table.add_column("order")
    table.add_column("RTF 1 core", justify="right")
    for setting in chosen:
        table.add_column(setting.label, justify="right")
    table.add_column(f"one order on {args.cores} threads", justify="right")
    table.add_column("more audio per second with", justify="right")
    for name in args.jobs.split(","):
        job = JOBS[name]
        problem = registry.check(job.engine, options(job, 1))
        if problem is not None:
            print(f"skipping {job.label}: {problem}")
            continue
        timings = best(name, chosen, args.seconds, args.repeat)
        single, threaded, parallel = timings
        table.add_row(
            job.label,
            f"{1 / single.throughput:.3f}",
            *(t.cell() for t in timings),
            f"{threaded.throughput / single.throughput:.2f}x",
            verdict(threaded, parallel, args.cores),
        )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
