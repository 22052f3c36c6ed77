"""Retries against a flaky store: a TCP relay in front of SeaweedFS drops the first connections
it gets; S3Storage's requests get through within ``max_attempts`` and fail clearly past it."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from yinzi.app import create_app
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.settings import S3Settings
from yinzi.storage.base import StorageUnavailable
from yinzi.storage.s3 import S3Storage

from helpers import make_settings, new_user
from seaweed import SeaweedServer


class DroppingRelay:
    """Forwards loopback connections to ``port``, closing the next ``drops`` ones unanswered;
    while ``silent``, new connections are held open and never answered (a hung store)."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.drops = 0
        self.dropped = 0
        self.silent = False
        self.held: list[socket.socket] = []
        self.live: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.drops > 0:
                self.drops -= 1
                self.dropped += 1
                conn.recv(65536)
                conn.close()
                continue
            if self.silent:
                self.held.append(conn)
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self.live += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def drop_next(self, count: int) -> None:
        """Cut every open connection, and close the next ``count`` new ones unanswered."""
        self.drops = count
        for sock in self.live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.live.clear()

    def hang(self) -> None:
        """Cut every open connection, and hold every new one without an answer."""
        self.silent = True
        self.drop_next(0)

    def close(self) -> None:
        self.drop_next(0)
        self.listener.close()
        for sock in self.held:
            sock.close()


def _pipe(src: socket.socket, dest: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dest.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dest):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def relay(seaweed: SeaweedServer) -> Iterator[DroppingRelay]:
    r = DroppingRelay(seaweed.ports["s3.port"])
    yield r
    r.close()


def _storage(
    settings: S3Settings, relay: DroppingRelay, attempts: int, check_timeout: float = 2.0
) -> S3Storage:
    settings.endpoint_url = f"http://127.0.0.1:{relay.port}"
    settings.max_attempts = attempts
    settings.presign = True
    return S3Storage(
        settings, base_url="http://testserver", secret=b"s", check_timeout=check_timeout
    )


def test_dropped_connections_are_retried(
    s3_settings: S3Settings, relay: DroppingRelay, tmp_path: Path
) -> None:
    storage = _storage(s3_settings, relay, attempts=4)
    src = tmp_path / "a.mp3"
    src.write_bytes(b"retried")
    relay.drop_next(2)
    storage.put_file("results/R1/a/a.mp3", src)
    relay.drop_next(2)
    assert b"".join(storage.open_read("results/R1/a/a.mp3")) == b"retried"
    assert relay.dropped == 4


def test_past_max_attempts_the_error_is_clear_and_nothing_is_stored(
    s3_settings: S3Settings, relay: DroppingRelay, tmp_path: Path
) -> None:
    storage = _storage(s3_settings, relay, attempts=2)
    src = tmp_path / "a.mp3"
    src.write_bytes(b"lost")
    relay.drop_next(10)
    with pytest.raises(StorageUnavailable, match="could not store a file"):
        storage.put_file("results/R2/a/a.mp3", src)
    assert 2 <= relay.dropped < 10  # tried again, then gave up (urllib3 may redial a cut socket)
    relay.drop_next(0)
    assert not storage.exists("results/R2/a/a.mp3")


def test_the_health_check_makes_one_short_attempt_at_a_hung_store(
    s3_settings: S3Settings, relay: DroppingRelay
) -> None:
    s3_settings.read_timeout_seconds = 0.5
    storage = _storage(s3_settings, relay, attempts=3, check_timeout=0.5)
    relay.hang()
    started = time.monotonic()
    with pytest.raises(Exception, match="timeout"):
        storage.check()
    assert time.monotonic() - started < 2  # not three tries of the read timeout
    assert len(relay.held) == 1
    with pytest.raises(StorageUnavailable):
        storage.size("results/R3/a/a.mp3")
    assert len(relay.held) == 1 + 3  # other requests make max_attempts tries in all


def test_clients_get_a_plain_message_and_the_log_gets_the_stores_error(
    s3_settings: S3Settings,
    relay: DroppingRelay,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    s3_settings.endpoint_url = f"http://127.0.0.1:{relay.port}"
    s3_settings.max_attempts = 1
    s3_settings.presign = False
    settings = make_settings(tmp_path, storage="s3", s3=s3_settings)
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    user = new_user(ctx)
    key = "results/R4/a/a.mp3"
    try:
        with TestClient(create_app(settings, ctx=ctx)) as client:
            link = urlsplit(ctx.storage.url(key, ttl_seconds=60))
            relay.drop_next(100)
            with caplog.at_level(logging.WARNING, logger="yinzi.storage.s3"):
                download = client.get(f"{link.path}?{link.query}")
                files = {"file": ("a.wav", b"RIFF")}
                upload = client.post("/api/open/v1/file/upload", files=files, headers=user.auth)
    finally:
        ctx.close()
    assert download.status_code == 503
    assert download.json() == {
        "code": 503,
        "msg": "the object store could not look up a file; try again later",
    }
    assert upload.json()["code"] == 500
    assert upload.json()["msg"] == "the object store could not store a file; try again later"
    for answer in (download, upload):
        assert str(relay.port) not in answer.text and s3_settings.bucket not in answer.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"127.0.0.1:{relay.port}" in logged  # the operator learns which store failed
    assert s3_settings.secret_access_key is not None
    assert s3_settings.secret_access_key not in logged
