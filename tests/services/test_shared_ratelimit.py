"""Rate limits shared by API processes through Redis (a database number of its own)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yinzi.errors import ConfigurationError, RateLimited
from yinzi.services.ratelimit import RateLimiter, SharedRateLimiter, build_limiter

REDIS_URL = f"redis://127.0.0.1:6379/{int(os.environ.get('YINZI_TEST_REDIS_DB', '13')) + 1}"


@pytest.fixture
def redis_url() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    client: Any = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


def test_two_limiters_as_two_processes_share_one_limit(redis_url: str) -> None:
    first, second = SharedRateLimiter(3, redis_url), SharedRateLimiter(3, redis_url)
    try:
        first.hit("key-a")
        second.hit("key-a")
        first.hit("key-a")
        with pytest.raises(RateLimited) as refused:
            second.hit("key-a")
        assert 1 <= refused.value.retry_after <= 60
        with pytest.raises(RateLimited):
            first.hit("key-a")
        second.hit("key-b")  # another key has a limit of its own
    finally:
        first.close()
        second.close()


def test_keys_are_not_stored_in_the_clear(redis_url: str) -> None:
    import redis

    limiter = SharedRateLimiter(5, redis_url)
    limiter.hit("secret-api-key")
    client = redis.Redis.from_url(redis_url)
    names = [name.decode() for name in client.keys("*")]
    client.close()
    limiter.close()
    assert len(names) == 1 and "secret-api-key" not in names[0]


def test_an_unreachable_redis_falls_back_to_a_limit_per_process() -> None:
    pytest.importorskip("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = SharedRateLimiter(2, f"redis://127.0.0.1:{port}/0")
    try:
        limiter.hit("k")
        limiter.hit("k")
        with pytest.raises(RateLimited):
            limiter.hit("k")
    finally:
        limiter.close()


def test_without_redis_the_limit_is_per_process() -> None:
    limiter = build_limiter(1, None)
    assert type(limiter) is RateLimiter
    other = build_limiter(1, None)
    limiter.hit("k")
    other.hit("k")  # another process counts on its own
    with pytest.raises(RateLimited):
        limiter.hit("k")


def test_after_a_failure_redis_is_left_alone_for_the_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    redis = pytest.importorskip("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    limiter = SharedRateLimiter(100, url, backoff_seconds=2.0)
    server: subprocess.Popen[bytes] | None = None
    with caplog.at_level(logging.WARNING, logger="yinzi.services.ratelimit"):
        try:
            failed_at = time.monotonic()
            limiter.hit("k")  # nothing on the port: counted here, Redis left alone a while
            server = _start_redis(binary, port, tmp_path)
            client: Any = redis.Redis.from_url(url)
            for _ in range(20):
                limiter.hit("k")
            assert time.monotonic() - failed_at < 2.0, "redis-server took too long to start"
            assert client.dbsize() == 0  # Redis answers now, but was not asked in the backoff
            time.sleep(max(0.0, failed_at + 2.1 - time.monotonic()))
            limiter.hit("k")
            assert client.dbsize() == 1  # asked again once the backoff was over
            client.close()
        finally:
            limiter.close()
            if server is not None:
                server.terminate()
                server.wait(10)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("counted in this process only" in m for m in messages) == 1
    assert sum("shared again" in m for m in messages) == 1


def _start_redis(binary: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return server
        except OSError:
            time.sleep(0.02)
    server.terminate()
    raise AssertionError("redis-server did not start")


def test_a_shared_limit_without_the_redis_package_fails_at_start_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # what `import redis` meets when it is absent
    with pytest.raises(ConfigurationError, match=re.escape("pip install 'yinzi[celery]'")):
        build_limiter(10, "redis://127.0.0.1:6379/0")
