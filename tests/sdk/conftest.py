"""A real Yinzi server for the SDK's tests: uvicorn on loopback, a worker thread beside it, and a
TCP proxy in front that can drop a response or refuse connections for a while.

Engines are the fast ones: spectral separation, PocketSphinx, procedural music.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.queue.embedded import Worker
from yinzi.settings import Settings

from helpers import User, make_settings, new_user, serving


@dataclass
class Server:
    url: str
    ctx: Context
    settings: Settings
    user: User
    worker: Worker | None

    def new_user(self, credits: int = 1000) -> User:
        return new_user(self.ctx, credits=credits)


ServerFactory = Callable[..., Server]


@pytest.fixture
def yinzi_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Starts a server: ``yinzi_server(worker=False, rate_limit_per_minute=60)``."""
    running: list[Callable[[], None]] = []

    def start(*, worker: bool = True, **overrides: Any) -> Server:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        settings = make_settings(
            tmp_path,
            public_url=f"http://127.0.0.1:{port}",
            separation_engine="separation.spectral",
            stem_engine="separation.spectral",
            transcription_engine="transcription.pocketsphinx",
            **overrides,
        )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.db_url)
        ctx = Context.build(settings)
        serve = serving(create_app(settings, ctx=ctx), sock)
        serve.__enter__()
        running.append(lambda: serve.__exit__(None, None, None))
        running.append(ctx.close)
        user = new_user(ctx)
        background = Worker(settings) if worker else None
        if background is not None:
            # Open the worker's first connection here, not racing the test's: two SQLite
            # connections opening at once can meet "database is locked" before busy_timeout.
            with background.ctx.db.read() as session:
                session.execute(text("SELECT 1"))
            stop = threading.Event()
            thread = threading.Thread(target=background.run_forever, args=(stop,), daemon=True)
            thread.start()
            running.append(lambda: (stop.set(), thread.join(30)))
        return Server(f"http://127.0.0.1:{port}", ctx, settings, user, background)

    yield start
    for stop in reversed(running):
        stop()


@pytest.fixture
def server(yinzi_server: ServerFactory) -> Server:
    return yinzi_server()


class Proxy:
    """Forwards TCP connections to ``target``. ``drop_responses``: that many next responses are
    swallowed (the request reached the server) and their connection closed; ``refusing``: new
    connections are closed at once and open ones cut; :meth:`refuse` does so for that many new
    connections only."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.drop_responses = 0
        self.dropped = 0
        self.refused = 0
        self._refusing = False
        self._refuse_left = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def refusing(self) -> bool:
        return self._refusing

    @refusing.setter
    def refusing(self, value: bool) -> None:
        self._refusing = value
        if value:
            with self._lock:
                for conn in list(self._open):
                    _close(conn)

    def refuse(self, connections: int) -> None:
        """Cut open connections and refuse the next ``connections`` new ones, then serve again."""
        self._refuse_left = connections
        self.refusing = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                self.refused += 1
                _close(client)
                self._refuse_left -= 1
                if self._refuse_left == 0:
                    self._refusing = False
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers and self._take_drop():
                    break
                sink.sendall(data)
        except OSError:
            pass
        for conn in (source, sink):
            _close(conn)
            with self._lock:
                self._open.discard(conn)

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drop_responses <= 0:
                return False
            self.drop_responses -= 1
            self.dropped += 1
            return True

    def close(self) -> None:
        self._listener.close()
        self.refusing = True


def _close(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


@pytest.fixture
def proxy(server: Server) -> Iterator[Proxy]:
    """A proxy in front of ``server``."""
    port = int(server.url.rsplit(":", 1)[1])
    running = Proxy(port)
    yield running
    running.close()
