"""Shared fixtures: a fresh data folder, database, app and worker per test.

``backend_url`` runs a test against every database backend: SQLite always, PostgreSQL when a
server answers on the standard local port (skipped with the reason otherwise).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.media import testing
from yinzi.queue.embedded import Worker
from yinzi.settings import Settings

from helpers import Receiver, User, make_settings, new_user

PG_ADMIN_URL = os.environ.get("YINZI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {PG_ADMIN_URL}: {exc}")
    name = f"yinzi_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'yinzi.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    context = Context.build(settings)
    yield context
    context.close()


@pytest.fixture
def client(settings: Settings, ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(settings, ctx=ctx)) as test_client:
        yield test_client


@pytest.fixture
def user(ctx: Context) -> User:
    return new_user(ctx)


@pytest.fixture
def worker(settings: Settings, ctx: Context) -> Iterator[Worker]:
    w = Worker(settings)
    yield w
    w.ctx.close()


@dataclass
class FileServer:
    root: Path
    base: str

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """An HTTP server on loopback serving files from a folder (the test's "internet")."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FileServer(root, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def song(file_server: FileServer) -> str:
    """The URL of a 3-second song on the test's file server."""
    testing.song(file_server.root / "song.wav", seconds=3.0)
    return file_server.url("song.wav")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A callback receiver that answers 200 to everything."""
    r = Receiver([])
    yield r
    r.close()
