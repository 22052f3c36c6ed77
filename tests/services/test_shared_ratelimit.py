"""Rate limits shared by API processes through Redis (a database number of its own)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from yinzi.errors import RateLimited
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
