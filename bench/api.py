"""Order-query throughput and latency on loopback, next to a bare FastAPI endpoint.

    python bench/api.py [--seconds 5] [--concurrency 16] [--workers N]

Three servers' worth of numbers from one run: a bare FastAPI app answering a constant JSON body
(the ceiling of the stack), ``GET /api/open/v1/order/query`` of a finished order (auth, two
queries, link signing) while the workers are idle, and the same while every worker is busy
separating long songs. Load comes from a separate process speaking keep-alive HTTP/1.1.
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
    run(args.seconds, args.concurrency, args.workers)


def run(seconds: float, concurrency: int, workers: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from yinzi.media import testing

    rows = []
    port = free_port()
    bare = subprocess.Popen([sys.executable, __file__, "--bare", str(port)])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping")
        rows.append(
            (
                "bare FastAPI endpoint",
                measure(f"http://127.0.0.1:{port}/ping", {}, seconds, concurrency),
            )
        )
    finally:
        bare.terminate()
        bare.wait()
    with tempfile.TemporaryDirectory() as tmp, file_host(Path(tmp)) as host:
        testing.song(Path(tmp) / "short.wav", seconds=3.0)
        testing.song(Path(tmp) / "long.wav", seconds=300.0)
        with yinzi_server(workers) as server:
            order_no = create_order(server, "track-separation", f"{host}/short.wav")
            wait_for_order(server, order_no)
            url = f"{server.base}/api/open/v1/order/query?orderNo={order_no}"
            rows.append(
                ("order query, workers idle", measure(url, server.auth, seconds, concurrency))
            )
            busy = [
                create_order(server, "track-separation", f"{host}/long.wav")
                for _ in range(workers * 2)
            ]
            time.sleep(3.0)  # let every worker get going
            rows.append(
                (
                    f"order query, {workers} worker(s) busy",
                    measure(url, server.auth, seconds, concurrency),
                )
            )
            del busy
    table = Table(
        title=f"Open API order query on loopback ({concurrency} connections, "
        f"{seconds:g} s, {os.cpu_count()} cores)"
    )
    for column in ("endpoint", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs bare"):
        table.add_column(column, justify="right" if column != "endpoint" else "left")
    ceiling = rows[0][1]["rps"]
    for name, r in rows:
        table.add_row(
            name,
            f"{r['rps']:.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            f"{r['errors']:.0f}",
            f"{r['rps'] / ceiling:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
