"""Helpers for tests: users, settings and draining the queue in-process."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import uvicorn
from starlette.types import ASGIApp

from yinzi.context import Context
from yinzi.queue.embedded import Worker
from yinzi.services import accounts, callbacks
from yinzi.settings import FetchSettings, Settings

if TYPE_CHECKING:
    from cluster.mode import ThreadWorker


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "public_url": "http://testserver",
        "workers": 1,
        "lease_seconds": 30.0,
        "poll_interval_seconds": 0.05,
        "fetch": FetchSettings(allow_private=True, timeout_seconds=20.0),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class User:
    id: int
    email: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_user(ctx: Context, credits: int = 1000, email: str | None = None) -> User:
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    with ctx.db.write() as session:
        account, key = accounts.create_account(session, email, credits=credits)
    return User(account.id, email, key.key)


def kie_error(response: Any) -> tuple[int, int, str]:
    """A Kie-envelope error: (HTTP status, ``code``, ``msg``), checking ``data`` is null."""
    body = response.json()
    assert set(body) == {"code", "msg", "data"} and body["data"] is None
    return response.status_code, body["code"], body["msg"]


def six_stem_demucs(settings: Settings, folder: Path) -> None:
    """Make ``settings`` split stems with a tiny six-stem Demucs model built in ``folder``."""
    from yinzi.engines.separation.demucs_testing import build_tiny_demucs

    sources = ("drums", "bass", "other", "vocals", "guitar", "piano")
    repo = build_tiny_demucs(folder, sources=sources).parent
    settings.stem_engine = "separation.demucs"
    settings.demucs.model, settings.demucs.repo = "tiny0000", str(repo)


def drain(worker: Worker | ThreadWorker, limit: int = 50) -> int:
    """Run queued orders in this process until none is left, then deliver the callbacks that
    are due; returns how many orders ran. In cluster mode (``tests/cluster/mode.py``) a Celery
    worker runs them."""
    if not isinstance(worker, Worker):
        ran = worker.drain()
    else:
        ran = 0
        while ran < limit and worker.run_once():
            ran += 1
    callbacks.deliver_due(worker.ctx)
    return ran


class Receiver:
    """A callback receiver on loopback answering a scripted list of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def payloads(self) -> list[Any]:
        """The JSON bodies received so far, in order."""
        return [json.loads(body) for _, body in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(app: ASGIApp, sock: socket.socket | None = None) -> Iterator[int]:
    """Run ``app`` under a real uvicorn server on loopback, in a thread; yields its port.

    ``sock``: a socket already bound (for an app that must know its own address)."""
    if sock is None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def instrumental(
    seconds: float = 10.0, seed: int = 0, rate: int = 16000
) -> npt.NDArray[np.float32]:
    """A band without a singer: four bars of triads over kick, snare and hi-hat at 120 bpm."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    music = np.zeros(t.size)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    bar = 2.0
    for start in np.arange(0.0, seconds, bar):
        notes = chords[int(start / bar) % len(chords)]
        span = (t >= start) & (t < start + bar)
        local = t[span] - start
        for note in notes:
            for harmonic in range(1, 5):
                music[span] += np.sin(2 * np.pi * note * harmonic * local) / harmonic**1.5
        music[span] *= np.exp(-local * 0.8)
    drums = np.zeros(t.size)
    beat = rate // 2
    for i, onset in enumerate(range(0, t.size, beat)):
        hit = np.arange(min(beat, t.size - onset)) / rate
        if i % 2 == 0:  # kick: a falling low sine
            drums[onset : onset + hit.size] += np.sin(
                2 * np.pi * (50 + 80 * np.exp(-hit * 30)) * hit
            )
            drums[onset : onset + hit.size] *= np.exp(-hit * 12)
        else:  # snare: a burst of noise
            drums[onset : onset + hit.size] += rng.standard_normal(hit.size) * np.exp(-hit * 25)
        hat = onset + beat // 2
        if hat < t.size:
            tick = min(800, t.size - hat)
            drums[hat : hat + tick] += 0.3 * np.diff(rng.standard_normal(tick + 1))
    mix = 0.15 * music + 0.4 * drums
    return (0.5 * mix / np.max(np.abs(mix))).astype(np.float32)
