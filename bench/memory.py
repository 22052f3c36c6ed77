"""Peak memory of a worker and of the API process against the length of the input.

    python bench/memory.py [--minutes 10,30,60] [--types separation,extract-text,...]

Each measurement runs in a fresh process and reports that process's peak resident set (the
kernel's high-water mark, ``VmHWM``):

- worker orders (``separation`` = track-separation with the engine ``auto`` picks,
  ``split_stem`` = every stem of the stem engine, ``split_stem_advanced`` = the drum stem and
  the rest, ``extract-text`` = transcription with the default engine): the child builds a real
  Settings, database and local storage in a scratch folder, stores the input as an upload
  (``uploads.store``, as the API does) and runs the order through ``runner.run_order``, the
  code every worker runs; it must end ``finish``. The input is a synthetic song
  (``yinzi.media.testing.song``) as a 192 kbit/s stereo MP3, or for ``extract-text`` real
  recorded speech (``--speech``, English clips) looped to length (whole clips, then silence),
  also a stereo MP3.
- ``music``: a text-to-music order of the longest clip the API can make (12 bars at 40 bpm,
  72 s). Its length is bounded whatever is asked, so it has one row, at any ``--minutes``.
- ``fetch``: the worker's download of an input URL (the fetcher a worker uses for
  ``http(s)://`` inputs) from a local HTTP server.
- ``upload`` and ``download``: a ``yinzi serve`` process; the input is streamed to
  ``POST /api/open/v1/file/upload``, or a stored result of that length is fetched through its
  signed ``/files/`` link; the figure is the API process's peak (its workers are other
  processes).

Goals: every peak at most 1 GB, and flat in duration: the peak for the longest input within 10%
of the one before it (30 against 60 minutes by default). Whisper decodes a 30-s chunk whose text
looks wrong again by sampling five hypotheses, which takes about 190 MB more while it runs: an
``extract-text`` input with such a chunk peaks that much higher than one without, whatever their
lengths (the sampling is seeded, so a run repeats). RTF is the wall time of the step over
the input's duration. Each row is printed as it completes, the table at the end. Inputs are
kept in ``--inputs`` (default: a temporary folder) so that runs can share them. Linux only
(``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, file_host, yinzi_server

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "eval" / "real" / "speech"
WORKER_TYPES = {
    "separation": ("track-separation", {}),
    "split_stem": ("split_stem", {}),
    "split_stem_advanced": ("split_stem_advanced", {"stemName": "Kick"}),
    "extract-text": ("extract-text", {"language": "auto"}),
}
TYPES = (*WORKER_TYPES, "music", "fetch", "upload", "download")
MUSIC = {"text": "ambient piano forty bpm", "length": 12, "seed": 1}  # the longest: 72 s
GOAL_BYTES = 1024**3
FLAT = 0.10
MIB = 1024**2


@dataclass
class Row:
    kind: str
    minutes: float
    seconds: float
    """Of the step measured."""
    peak: int
    """Bytes."""
    duration: float
    """Of the audio, seconds."""


# -- inputs -------------------------------------------------------------------------------------


def song_input(folder: Path, minutes: float) -> Path:
    from yinzi.media import testing

    path = folder / f"song-{minutes:g}min.mp3"
    if not path.exists():
        testing.song(path.with_suffix(".part.mp3"), seconds=minutes * 60).rename(path)
    return path


def speech_input(folder: Path, minutes: float, clips: list[Path]) -> Path:
    """The ``clips`` one after the other, 0.5 s apart, over and over as long as a whole clip
    fits, then silence to the length asked for (a recording ends between words), as a stereo
    MP3."""
    import numpy as np

    from yinzi import media

    path = folder / f"speech-{minutes:g}min.mp3"
    if path.exists():
        return path
    gap = np.zeros((2, 22050), np.float32)
    audio = [
        np.concatenate([media.read_all(clip, sample_rate=44100, channels=2), gap], axis=1)
        for clip in clips
    ]
    left = round(minutes * 60 * 44100)
    part = path.with_suffix(".part.mp3")
    with media.AudioWriter(part, format="mp3", sample_rate=44100) as writer:
        while any(piece.shape[1] <= left for piece in audio):
            for piece in audio:
                if piece.shape[1] <= left:
                    writer.write(piece)
                    left -= piece.shape[1]
        for start in range(0, left, gap.shape[1]):
            writer.write(gap[:, : left - start])
    part.rename(path)
    return path


def speech_clips(folder: Path) -> list[Path]:
    clips = sorted(folder.glob("en_*.wav"))
    if not clips:
        clips = sorted((ROOT / "tests" / "fixtures" / "speech").glob("*.wav"))[:1]
    return clips


# -- children -----------------------------------------------------------------------------------


def peak_of(pid: int | str = "self") -> int:
    """The process's peak resident set in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_order(job: dict[str, Any]) -> dict[str, Any]:
    """Run one order the way a worker does; in a fresh process."""
    from yinzi import runner
    from yinzi.context import Context
    from yinzi.db.migrate import upgrade
    from yinzi.db.models import Order
    from yinzi.services import accounts, orders, uploads
    from yinzi.settings import Settings

    data = Path(job["data"])
    settings = Settings(data_dir=data, workers=1, engine_threads=job["threads"])
    data.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    with ctx.db.write() as session:
        account, _ = accounts.create_account(session, "bench@example.com", credits=10**9)
    source = ""
    if job["input"]:
        with open(job["input"], "rb") as file:
            source = uploads.store(ctx, account, file, Path(job["input"]).name)
    with ctx.db.write() as session:
        account = accounts.find(session, "bench@example.com")
        hold = None
        if job["type"] == "text-to-music":  # priced per bar, held whole at create
            hold = settings.prices.text_to_music.per_bar * int(job["options"]["length"])
        order = orders.create(
            session, settings, account, job["type"], source, job["options"], hold=hold
        )
        order_no = order.order_no
    _seed_sampling()
    started = time.perf_counter()
    runner.run_order(ctx, order_no)
    seconds = time.perf_counter() - started
    with ctx.db.read() as session:
        done = session.get(Order, order_no)
        assert done is not None
        if done.status != "finish":
            raise RuntimeError(f"the order ended {done.status}: {done.reason}")
        duration = float(done.duration or 0.0)
    return {"seconds": seconds, "peak": peak_of(), "duration": duration}


def _seed_sampling() -> None:
    """Whisper retries a doubtful 30-s chunk by sampling five hypotheses, which takes about
    100 MB more than decoding it; a fixed seed makes which chunks do so the same at every run."""
    try:
        import ctranslate2
    except ImportError:
        return
    ctranslate2.set_random_seed(1)


def child_fetch(job: dict[str, Any]) -> dict[str, Any]:
    """Download the input as a worker fetches an order's URL; in a fresh process."""
    from yinzi.context import Context
    from yinzi.settings import FetchSettings, Settings

    data = Path(job["data"])
    fetch = FetchSettings(allow_private=True, max_bytes=2 * 1024**3, timeout_seconds=3600)
    ctx = Context.build(Settings(data_dir=data, fetch=fetch))
    started = time.perf_counter()
    ctx.fetcher.download(job["url"], data / "input")
    return {"seconds": time.perf_counter() - started, "peak": peak_of()}


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(job)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{job['type']} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the API process ----------------------------------------------------------------------------


def api_server() -> AbstractContextManager[Server]:
    """A fresh ``yinzi serve`` (one worker, idle) taking uploads as large as the inputs."""
    return yinzi_server(1, YINZI_MAX_UPLOAD_BYTES=str(2 * 1024**3))


def api_peak(api: Server) -> int:
    assert api.pid is not None
    return peak_of(api.pid)


def measure_upload(path: Path) -> dict[str, Any]:
    with api_server() as api, path.open("rb") as file:
        started = time.perf_counter()
        answer = httpx.post(
            f"{api.base}/api/open/v1/file/upload",
            files={"file": (path.name, file, "audio/mpeg")},
            headers=api.auth,
            timeout=3600,
        ).json()
        seconds = time.perf_counter() - started
        if answer["code"] != 0:
            raise RuntimeError(f"the upload failed: {answer}")
        return {"seconds": seconds, "peak": api_peak(api)}


def measure_download(path: Path) -> dict[str, Any]:
    from yinzi.context import build_storage
    from yinzi.settings import Settings

    with api_server() as api:
        storage = build_storage(Settings(data_dir=api.data_dir, public_url=api.base))
        key = "results/BENCHMEMORY/attempt/vocals.mp3"
        with path.open("rb") as file:
            storage.put_stream(key, file, max_bytes=2 * 1024**3)
        started = time.perf_counter()
        size = 0
        with httpx.stream("GET", storage.url(key, ttl_seconds=3600), timeout=3600) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_bytes():
                size += len(chunk)
        if size != path.stat().st_size:
            raise RuntimeError(f"downloaded {size} bytes of {path.stat().st_size}")
        return {"seconds": time.perf_counter() - started, "peak": api_peak(api)}


# -- the run ------------------------------------------------------------------------------------


def measure(kind: str, minutes: float, inputs: Path, args: argparse.Namespace) -> Row:
    with tempfile.TemporaryDirectory(prefix="yinzi-memory-") as tmp:
        scratch = Path(tmp)
        job: dict[str, Any] = {"data": str(scratch / "data"), "threads": args.threads}
        duration = minutes * 60
        if kind in WORKER_TYPES:
            order_type, options = WORKER_TYPES[kind]
            if kind == "extract-text":
                path = speech_input(inputs, minutes, speech_clips(args.speech))
            else:
                path = song_input(inputs, minutes)
            job |= {"type": order_type, "options": options, "input": str(path)}
            result = run_child(job)
        elif kind == "music":
            job |= {"type": "text-to-music", "options": MUSIC, "input": ""}
            result = run_child(job)
            duration = result["duration"]
        elif kind == "fetch":
            path = song_input(inputs, minutes)
            with file_host(inputs) as base:
                result = run_child(job | {"type": "fetch", "url": f"{base}/{path.name}"})
        elif kind == "upload":
            result = measure_upload(song_input(inputs, minutes))
        else:
            result = measure_download(song_input(inputs, minutes))
    return Row(kind, minutes, result["seconds"], result["peak"], duration)


def flatness(row: Row, rows: list[Row]) -> float | None:
    """The change of the peak from the row of the same kind with the next shorter input."""
    shorter = [r for r in rows if r.kind == row.kind and r.minutes < row.minutes]
    if not shorter:
        return None
    before = max(shorter, key=lambda r: r.minutes)
    return row.peak / before.peak - 1


def cells(row: Row, rows: list[Row]) -> list[str]:
    change = flatness(row, rows)
    return [
        row.kind,
        f"{row.minutes:g}" if row.kind != "music" else f"{row.duration:.0f} s (max)",
        f"{row.seconds:.1f}",
        f"{row.seconds / row.duration:.3f}",
        f"{row.peak / MIB:.0f}",
        "ok" if row.peak <= GOAL_BYTES else "OVER",
        "" if change is None else f"{change:+.1%}",
        "" if change is None else ("ok" if change <= FLAT else "GROWS"),
    ]


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", default="10,30,60", help="input lengths, comma-separated")
    parser.add_argument("--types", default=",".join(TYPES), help=f"some of {', '.join(TYPES)}")
    parser.add_argument("--inputs", type=Path, help="folder keeping the inputs between runs")
    parser.add_argument("--speech", type=Path, default=SPEECH, help="folder of en_*.wav clips")
    parser.add_argument("--threads", type=int, default=0, help="engine threads (0: settings)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        result = child_fetch(job) if job["type"] == "fetch" else child_order(job)
        print(json.dumps(result))
        return
    minutes = sorted(float(m) for m in args.minutes.split(","))
    kinds = [k.strip() for k in args.types.split(",") if k.strip()]
    unknown = set(kinds) - set(TYPES)
    if unknown:
        parser.error(f"unknown types {sorted(unknown)}; known: {', '.join(TYPES)}")
    console = Console(width=130)
    header = ["type", "minutes", "seconds", "RTF", "peak MiB", "≤ 1 GB", "vs shorter", "≤ +10%"]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="yinzi-memory-inputs-") as tmp:
        inputs = args.inputs or Path(tmp)
        inputs.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            for length in minutes[:1] if kind == "music" else minutes:
                rows.append(measure(kind, length, inputs, args))
                line = zip(header, cells(rows[-1], rows), strict=True)
                console.print("  ".join(f"{name}: {cell}" for name, cell in line))
    table = Table(title="Peak resident memory against input length (one fresh process each)")
    for column in header:
        table.add_column(column, justify="left" if column == "type" else "right")
    for row in rows:
        table.add_row(*cells(row, rows))
    console.print(table)
    print(f"python bench/memory.py --minutes {args.minutes} --types {','.join(kinds)}")


if __name__ == "__main__":
    main()
