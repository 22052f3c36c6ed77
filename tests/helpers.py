"""Helpers for tests: users, settings and draining the queue in-process."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from yinzi.context import Context
from yinzi.queue.embedded import Worker
from yinzi.services import accounts, callbacks
from yinzi.settings import FetchSettings, Settings


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


def drain(worker: Worker, limit: int = 50) -> int:
    """Run queued orders in this process until none is left, then deliver the callbacks that
    are due; returns how many orders ran."""
    ran = 0
    while ran < limit and worker.run_once():
        ran += 1
    callbacks.deliver_due(worker.ctx)
    return ran


@contextmanager
def serving(app: ASGIApp) -> Iterator[int]:
    """Run ``app`` under a real uvicorn server on loopback, in a thread; yields its port."""
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
