"""Order-query throughput and latency on loopback, next to a bare FastAPI endpoint.

    python bench/api.py [--seconds 5] [--concurrency 16] [--workers N] [--api-workers 1,2]
                        [--worker-nice N]

A bare FastAPI app answering a constant JSON body (the ceiling of the stack), then, for each
count of API processes (``yinzi serve --api-workers``), ``GET /api/open/v1/order/query`` of a
finished order (auth, one query, link signing) while the workers are idle, and the same while
every worker is busy separating long songs. Load comes from a separate process speaking
keep-alive HTTP/1.1. The goal column says what each row should reach: at least half the bare
endpoint's throughput, and with every worker busy a p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import create_order, file_host, free_port, wait_for_order, wait_until_up, yinzi_server


def bare_app():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, object]:
        return {"code": 0, "data": {"status": "finish", "cost": 10}, "msg": "success"}

    return app


async def _client(host: str, port: int, request: bytes, stop_at: float, out: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        out.append(time.perf_counter() - start)
        errors += head[9:12] != b"200"
    writer.close()
    return errors


async def _load(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {parts.path}?{parts.query} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *[_client(host, port, request, stop_at, latencies) for _ in range(concurrency)]
    )
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "errors": sum(errors),
    }


def measure(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> dict[str, float]:
    """Run the load in its own process so it does not share the server's interpreter."""
    cmd = [sys.executable, __file__, "--load", url, "--seconds", str(seconds),
           "--concurrency", str(concurrency), "--headers", json.dumps(headers)]  # fmt: skip
    # warm-up, then the measured run
    subprocess.run([*cmd[:4], "--seconds", "1", *cmd[6:]], check=True, capture_output=True)
    result: dict[str, float] = json.loads(
        subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument(
        "--api-workers",
        default="1,2",
        help="API process counts to measure, comma-separated (default: 1,2)",
    )
    parser.add_argument(
        "--worker-nice", type=int, help="YINZI_WORKER_NICE of the server (default: its own)"
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--headers", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(
            json.dumps(
                asyncio.run(
                    _load(args.load, json.loads(args.headers), args.seconds, args.concurrency)
                )
            )
        )
        return
    if args.bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare, log_level="warning")
        return
    api_workers = [int(n) for n in args.api_workers.split(",")]
    env = {} if args.worker_nice is None else {"YINZI_WORKER_NICE": str(args.worker_nice)}
    run(args.seconds, args.concurrency, args.workers, api_workers, env)


@dataclass(frozen=True)
class Goal:
    """What a row should reach: throughput against the bare endpoint, and a p99 latency."""

    ratio: float | None = None
    p99_ms: float | None = None

    def describe(self, result: dict[str, float], ceiling: float) -> str:
        parts = []
        if self.ratio is not None:
            met = result["rps"] / ceiling >= self.ratio
            parts.append(f">= {self.ratio:.2f}x {'✓' if met else '✗'}")
        if self.p99_ms is not None:
            met = result["p99_ms"] < self.p99_ms
            parts.append(f"p99 < {self.p99_ms:g} ms {'✓' if met else '✗'}")
        return ", ".join(parts) or "-"


IDLE = Goal(ratio=0.5)
BUSY = Goal(ratio=0.5, p99_ms=20.0)


def measure_server(
    seconds: float, concurrency: int, workers: int, api_workers: int, env: dict[str, str]
) -> list[tuple[str, dict[str, float], Goal]]:
    """The idle and busy rows of one ``yinzi serve`` with ``api_workers`` API processes."""
    from yinzi.media import testing

    label = "" if api_workers == 1 else f", {api_workers} API processes"
    rows = []
    with tempfile.TemporaryDirectory() as tmp, file_host(Path(tmp)) as host:
        testing.song(Path(tmp) / "short.wav", seconds=3.0)
        testing.song(Path(tmp) / "long.wav", seconds=300.0)
        with yinzi_server(workers, YINZI_API_WORKERS=str(api_workers), **env) as server:
            order_no = create_order(server, "track-separation", f"{host}/short.wav")
            wait_for_order(server, order_no)
            url = f"{server.base}/api/open/v1/order/query?orderNo={order_no}"
            idle = measure(url, server.auth, seconds, concurrency)
            rows.append((f"order query{label}, workers idle", idle, IDLE))
            for _ in range(workers * 2):
                create_order(server, "track-separation", f"{host}/long.wav")
            time.sleep(3.0)  # let every worker get going
            busy = measure(url, server.auth, seconds, concurrency)
            rows.append((f"order query{label}, {workers} worker(s) busy", busy, BUSY))
    return rows


def run(
    seconds: float, concurrency: int, workers: int, api_workers: list[int], env: dict[str, str]
) -> None:
    from rich.console import Console
    from rich.table import Table

    rows: list[tuple[str, dict[str, float], Goal]] = []
    port = free_port()
    bare = subprocess.Popen([sys.executable, __file__, "--bare", str(port)])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping")
        ping = measure(f"http://127.0.0.1:{port}/ping", {}, seconds, concurrency)
        rows.append(("bare FastAPI endpoint", ping, Goal()))
    finally:
        bare.terminate()
        bare.wait()
    for count in api_workers:
        rows += measure_server(seconds, concurrency, workers, count, env)
    nice = f", worker nice {env['YINZI_WORKER_NICE']}" if env else ""
    table = Table(
        title=f"Open API order query on loopback ({concurrency} connections, "
        f"{seconds:g} s, {os.cpu_count()} cores{nice})"
    )
    columns = ("endpoint", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs bare", "goal")
    for column in columns:
        table.add_column(column, justify="left" if column in ("endpoint", "goal") else "right")
    ceiling = rows[0][1]["rps"]
    for name, r, goal in rows:
        table.add_row(
            name,
            f"{r['rps']:.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            f"{r['errors']:.0f}",
            f"{r['rps'] / ceiling:.2f}",
            goal.describe(r, ceiling),
        )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
