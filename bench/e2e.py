"""One 3-minute track-separation order end to end, against the engine's own time.

    python bench/e2e.py [--seconds 180] [--repeat 3] [--engine NAME] [--cores N]

Measures, on one synthetic song: the engine alone (``separate()`` over decoded blocks), the
worker's separation task in this process (decode, separate, encode two WAVs, then two MP3s: the
task's own code, stems encoded in parallel threads), and the order through a real ``yinzi serve``
with one worker on default settings (upload, create, poll every 50 ms until ``finish``; one short
order first loads the engine, as in a running server), with where the order's time went. The
server runs throughout and each repeat measures the pipeline and then the order, so both see the
same machine. The engine (default: what ``auto`` picks here) runs with one
thread everywhere so the numbers compare; the encoder threads use whatever cores the process has
(``--cores N`` pins this process and the server to N cores). CPU seconds count every thread.

Goals: the MP3 order takes at most 1.3x the WAV order, and the platform adds less than 5% to the
worker's pipeline: both the order against the pipeline (the median of each order's difference
from the pipeline run just before it) and the order's own steps outside the task (upload,
create, the wait for a claim, storing and settling, the client's poll; measured directly).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from types import SimpleNamespace  # noqa: E402

from _common import Server, create_order, wait_for_order, yinzi_server  # noqa: E402

from yinzi.settings import Settings  # noqa: E402


def pipeline_times(song: Path, settings: Settings) -> dict[str, float]:
    """Seconds for separate() alone, and for the separation task writing WAV and MP3."""
    from yinzi import media
    from yinzi.tasks import separation
    from yinzi.tasks.base import engine

    separator = engine(settings, settings.separation_engine, "separation")  # loaded, untimed
    blocks = list(media.read_blocks(song, sample_rate=separator.sample_rate, channels=2))
    start, cpu = time.perf_counter(), time.process_time()
    for _ in separator.separate(iter(blocks), ["vocals", "accompaniment"]):
        pass
    times = {"alone": time.perf_counter() - start, "alone cpu": time.process_time() - cpu}
    for fmt in ("wav", "mp3"):
        order = SimpleNamespace(order_type="track-separation", options={"format": fmt})
        with tempfile.TemporaryDirectory() as work:
            start, cpu = time.perf_counter(), time.process_time()
            separation.run(settings, order, song, Path(work), lambda _: None)  # type: ignore[arg-type]
            times[fmt], times[f"{fmt} cpu"] = time.perf_counter() - start, time.process_time() - cpu
    return times


def order_time(server: Server, song: Path) -> dict[str, float]:
    """Seconds of one order through the server, and where they went.

    ``upload`` and ``create`` are the client's requests; ``queued`` runs from the order's
    creation to a worker's claim and ``run`` from the claim to the end (the database's
    timestamps); ``task`` is the worker's task (decode, separate, encode: what
    ``pipeline_times`` measures), from the server's Prometheus counters; ``poll`` is the time from
    the end to the client's seeing it.
    """
    task_before = _metric_sum(server, "yinzi_engine_seconds_sum")
    start = time.perf_counter()
    with song.open("rb") as f:
        path_key = httpx.post(
            f"{server.base}/api/open/v1/file/upload",
            files={"file": (song.name, f)},
            headers=server.auth,
            timeout=60,
        ).json()["data"]["pathKey"]
    uploaded = time.perf_counter()
    order_no = create_order(server, "track-separation", path_key)
    created = time.perf_counter()
    result = wait_for_order(server, order_no)
    seen, seen_wall = time.perf_counter(), time.time()
    if result["status"] != "finish":
        raise RuntimeError(f"order ended {result['status']}: {result['reason']}")
    with sqlite3.connect(server.data_dir / "yinzi.db") as db:
        stamps = db.execute(
            "SELECT created_at, started_at, finished_at FROM orders WHERE order_no = ?",
            (order_no,),
        ).fetchone()
    made, claimed, ended = (datetime.fromisoformat(t).replace(tzinfo=UTC) for t in stamps)
    return {
        "e2e": seen - start,
        "upload": uploaded - start,
        "create": created - uploaded,
        "queued": (claimed - made).total_seconds(),
        "run": (ended - claimed).total_seconds(),
        "task": _metric_sum(server, "yinzi_engine_seconds_sum") - task_before,
        "poll": seen_wall - ended.timestamp(),
    }


def _metric_sum(server: Server, name: str) -> float:
    """The sum of a metric's samples on the server's ``/metrics`` (every process's)."""
    text = httpx.get(f"{server.base}/metrics", timeout=30).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from yinzi.engines import registry
    from yinzi.media import testing

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", help="separation engine (default: what auto picks here)")
    parser.add_argument("--cores", type=int, help="pin this process and the server to N cores")
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", engine_threads=1)
        name = args.engine or registry.choose("separation", "auto", settings.engine_options)[0]
        settings = settings.model_copy(update={"separation_engine": name})
        song = testing.song(Path(tmp) / "song.wav", seconds=args.seconds)
        env = {
            "YINZI_SEPARATION_ENGINE": name,
            "YINZI_ENGINE_THREADS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(Path(tmp) / "metrics"),  # the worker's, too
        }
        (Path(tmp) / "metrics").mkdir()
        runs, e2e = [], []
        with yinzi_server(workers=1, **env) as server:
            order_time(
                server, testing.song(Path(tmp) / "warm.wav", seconds=2.0)
            )  # loads the engine
            for _ in range(args.repeat):
                runs.append(pipeline_times(song, settings))
                e2e.append(order_time(server, song))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    parts = {k: statistics.median(o[k] for o in e2e) for k in e2e[0]}
    med["e2e"] = parts["e2e"]
    cores = len(os.sched_getaffinity(0))
    table = Table(
        title=f"track-separation of a {args.seconds:g}-s song with {name} "
        f"(median of {args.repeat}, engine on one thread, {cores} core(s))"
    )
    for col in ("stage", "seconds", "real-time factor", "vs engine alone", "CPU seconds"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    labels = {
        "alone": "engine separate() alone",
        "wav": "decode + separate + write 2 WAVs",
        "mp3": "decode + separate + encode 2 MP3s",
        "e2e": "order: upload, create, run, poll to finish",
    }
    for key, label in labels.items():
        table.add_row(
            label,
            f"{med[key]:.2f}",
            f"{med[key] / args.seconds:.3f}",
            f"{med[key] / med['alone']:.2f}x",
            f"{med[f'{key} cpu']:.2f}" if f"{key} cpu" in med else "-",
        )
    steps = {
        "upload": "  upload the input",
        "create": "  create the order",
        "queued": "  wait for a worker's claim",
        "run": "  worker: claim to end",
        "task": "    of which the task (decode, separate, encode)",
        "poll": "  end to the client's poll seeing it",
    }
    for key, label in steps.items():
        table.add_row(label, f"{parts[key]:.2f}", "-", "-", "-")
    ratio = med["mp3"] / med["wav"]
    # each order against the pipeline run just before it, so that the machine's drift over the
    # minutes of the run cancels out
    pairs = [o["e2e"] - r["mp3"] for o, r in zip(e2e, runs, strict=True)]
    overhead = statistics.median(pairs)
    own = statistics.median(
        o["upload"] + o["create"] + o["queued"] + o["run"] - o["task"] + o["poll"] for o in e2e
    )
    goals = Table(title="goals")
    for col in ("goal", "figure", "met"):
        goals.add_column(col)
    goals.add_row("MP3 order <= 1.3x WAV order", f"MP3/WAV ratio {ratio:.2f}x", _yes(ratio <= 1.3))
    goals.add_row(
        "platform overhead < 5%: order vs pipeline",
        f"{100 * overhead / med['e2e']:.1f}% of the order ({overhead:.2f} s; "
        f"each pair {min(pairs):+.2f} to {max(pairs):+.2f} s)",
        _yes(overhead < 0.05 * med["e2e"]),
    )
    goals.add_row(
        "platform overhead < 5%: steps outside the task",
        f"{100 * own / med['e2e']:.1f}% of the order ({own:.2f} s)",
        _yes(own < 0.05 * med["e2e"]),
    )
    console = Console(width=160)
    console.print(table)
    console.print(goals)


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


if __name__ == "__main__":
    main()
