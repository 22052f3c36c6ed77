"""One 3-minute track-separation order end to end, against the engine's own time.

    python bench/e2e.py [--seconds 180] [--repeat 3] [--engine NAME] [--cores N]

Measures, on one synthetic song: the engine alone (``separate()`` over decoded blocks), the
worker's separation task in this process (decode, separate, encode two WAVs, then two MP3s: the
task's own code, stems encoded in parallel threads), and the order through a real ``yinzi serve``
with one worker (upload, create, poll every 50 ms until ``finish``; one short order first loads
the engine, as in a running server). The engine (default: what ``auto`` picks here) runs with one
thread everywhere so the numbers compare; the encoder threads use whatever cores the process has
(``--cores N`` pins this process and the server to N cores). CPU seconds count every thread.

Goals: the MP3 order takes at most 1.3x the WAV order, and the platform (upload, queue, storage,
polling) adds less than 5% to the worker's pipeline.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from types import SimpleNamespace  # noqa: E402

from _common import create_order, wait_for_order, yinzi_server  # noqa: E402

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


def order_time(server_base: object, song: Path) -> float:
    from _common import Server

    assert isinstance(server_base, Server)
    server = server_base
    start = time.perf_counter()
    with song.open("rb") as f:
        path_key = httpx.post(
            f"{server.base}/api/open/v1/file/upload",
            files={"file": (song.name, f)},
            headers=server.auth,
            timeout=60,
        ).json()["data"]["pathKey"]
    order_no = create_order(server, "track-separation", path_key)
    result = wait_for_order(server, order_no)
    elapsed = time.perf_counter() - start
    if result["status"] != "finish":
        raise RuntimeError(f"order ended {result['status']}: {result['reason']}")
    return elapsed


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
        runs = [pipeline_times(song, settings) for _ in range(args.repeat)]
        e2e = []
        env = {"YINZI_SEPARATION_ENGINE": name, "YINZI_ENGINE_THREADS": "1"}
        with yinzi_server(workers=1, YINZI_POLL_INTERVAL_SECONDS="0.05", **env) as server:
            order_time(
                server, testing.song(Path(tmp) / "warm.wav", seconds=2.0)
            )  # loads the engine
            for _ in range(args.repeat):
                e2e.append(order_time(server, song))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["e2e"] = statistics.median(e2e)
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
    ratio = med["mp3"] / med["wav"]
    overhead = med["e2e"] - med["mp3"]
    goals = Table(title="goals")
    for col in ("goal", "figure", "met"):
        goals.add_column(col)
    goals.add_row("MP3 order <= 1.3x WAV order", f"MP3/WAV ratio {ratio:.2f}x", _yes(ratio <= 1.3))
    goals.add_row(
        "platform overhead < 5%",
        f"{100 * overhead / med['e2e']:.1f}% of the order ({overhead:.2f} s)",
        _yes(overhead < 0.05 * med["e2e"]),
    )
    console = Console(width=160)
    console.print(table)
    console.print(goals)


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


if __name__ == "__main__":
    main()
