"""Shared bits of the benchmarks: a throwaway server, an account, a local file host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
YINZI = [sys.executable, "-c", "from yinzi.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


@dataclass
class Server:
    base: str
    key: str
    data_dir: Path
    pid: int | None = None  # the API process, where this process started it

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def yinzi_server(workers: int, **env: str) -> Iterator[Server]:
    """A `yinzi serve` process on a fresh data folder, with one account holding many credits."""
    with tempfile.TemporaryDirectory(prefix="yinzi-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        environ = {
            **os.environ,
            "YINZI_DATA_DIR": str(data_dir),
            "YINZI_FETCH__ALLOW_PRIVATE": "true",
            "YINZI_WORKERS": str(workers),
            **env,
        }
        subprocess.run([*YINZI, "migrate"], env=environ, check=True, capture_output=True)
        key = subprocess.run(
            [*YINZI, "accounts", "create", "bench@example.com", "--credits", "10000000"],
            env=environ,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        proc = subprocess.Popen(
            [*YINZI, "serve", "--port", str(port)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/healthz")
            yield Server(base, key, data_dir, proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


@contextmanager
def file_host(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on loopback; yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def create_order(server: Server, order_type: str, path_key: str) -> str:
    body = {"orderType": order_type, "stuff": {"pathKey": path_key}}
    answer = httpx.post(
        f"{server.base}/api/open/v1/order/create", json=body, headers=server.auth, timeout=30
    ).json()
    if answer["code"] != 0:
        raise RuntimeError(f"create failed: {answer}")
    return str(answer["data"]["orderNo"])


def wait_for_order(
    server: Server, order_no: str, timeout: float = 600.0, poll: float = 0.05
) -> dict[str, Any]:
    """Poll ``order/query`` until the order ends, on one keep-alive connection: ``httpx.get``
    builds a client per call, about 20 ms of CPU, which at 20 polls a second takes nearly half a
    core from the order being measured."""
    deadline = time.monotonic() + timeout
    url = f"{server.base}/api/open/v1/order/query?orderNo={order_no}"
    with httpx.Client(headers=server.auth, timeout=30) as client:
        while time.monotonic() < deadline:
            data: dict[str, Any] = client.get(url).json()["data"]
            if data["status"] in ("finish", "failed", "timeout"):
                return data
            time.sleep(poll)
    raise RuntimeError(f"order {order_no} did not end in {timeout} s")
