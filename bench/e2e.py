"""One 3-minute track-separation order end to end, against the engine's own time.

    python bench/e2e.py [--seconds 180] [--repeat 3]

Measures, on one synthetic song: the engine alone (``separate()`` over decoded blocks), the whole
worker pipeline in this process (decode, separate, encode two MP3s), and the order through a real
``yinzi serve`` with one worker (upload, create, poll every 50 ms until ``finish``). Everything
runs single-threaded so the numbers compare.
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

from _common import create_order, wait_for_order, yinzi_server  # noqa: E402


def engine_time(song: Path) -> dict[str, float]:
    """Seconds for separate() alone, and for the worker's path: decode, separate, encode."""
    from yinzi import media
    from yinzi.engines import registry

    engine = registry.load("separation.spectral", "separation")
    blocks = list(media.read_blocks(song, sample_rate=engine.sample_rate, channels=2))
    start = time.perf_counter()
    for _ in engine.separate(iter(blocks), ["vocals", "accompaniment"]):
        pass
    times = {"alone": time.perf_counter() - start}
    for fmt in ("wav", "mp3"):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            writers = {
                s: media.AudioWriter(Path(tmp) / f"{s}.{fmt}", format=fmt)  # type: ignore[arg-type]
                for s in ("vocals", "accompaniment")
            }
            for out in engine.separate(media.read_blocks(song), list(writers)):
                for stem, block in out.items():
                    writers[stem].write(block)
            for w in writers.values():
                w.close()
        times[fmt] = time.perf_counter() - start
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

    from yinzi.media import testing

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        song = testing.song(Path(tmp) / "song.wav", seconds=args.seconds)
        runs = [engine_time(song) for _ in range(args.repeat)]
        e2e = []
        with yinzi_server(workers=1, YINZI_POLL_INTERVAL_SECONDS="0.05") as server:
            for _ in range(args.repeat):
                e2e.append(order_time(server, song))
    med = {k: statistics.median(r[k] for r in runs) for k in ("alone", "wav", "mp3")}
    med["e2e"] = statistics.median(e2e)
    table = Table(
        title=f"track-separation of a {args.seconds:g}-s song (median of {args.repeat}, one core)"
    )
    for col in ("stage", "seconds", "real-time factor", "vs engine alone"):
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
        )
    Console().print(table)
    print(
        f"overhead of the platform over the worker pipeline: {med['e2e'] - med['mp3']:.2f} s "
        f"({100 * (med['e2e'] - med['mp3']) / med['e2e']:.0f}% of the order's time)"
    )


if __name__ == "__main__":
    main()
