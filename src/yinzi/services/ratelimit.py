"""Request limits: a token bucket per API key (per process, or shared by every API process
through Redis), and a gate for slow outbound work."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from yinzi.errors import RateLimited

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Take one request from ``key``'s bucket; raises RateLimited when it is empty."""
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / rate)
                raise RateLimited(
                    f"rate limit of {self.per_minute} requests per minute exceeded; "
                    f"retry in {wait} s",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1.0, now)

    def close(self) -> None:
        """Release what the limiter holds (nothing, for a per-process one)."""


class SharedRateLimiter(RateLimiter):
    """One limit for every process that uses the same Redis: a fixed one-minute window per key,
    counted with ``INCR`` (atomic in Redis), so N API processes allow ``per_minute`` requests
    in a window, not N times as many. Keys are stored hashed. While Redis cannot be reached the
    process falls back to its own bucket (logged), so an outage never refuses every request."""

    def __init__(self, per_minute: int, redis_url: str, prefix: str = "yinzi:rate:") -> None:
        import redis

        super().__init__(per_minute)
        self.prefix = prefix
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def hit(self, key: str) -> None:
        if self.per_minute <= 0:
            return
        import redis

        now = time.time()
        window = int(now // 60)
        name = f"{self.prefix}{hashlib.sha256(key.encode()).hexdigest()[:32]}:{window}"
        try:
            pipe = self.redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, 61)
            count = int(pipe.execute()[0])
        except redis.RedisError as exc:
            log.warning("rate limits counted in this process only: Redis failed: %s", exc)
            super().hit(key)
            return
        if count > self.per_minute:
            wait = max(1, math.ceil((window + 1) * 60 - now))
            raise RateLimited(
                f"rate limit of {self.per_minute} requests per minute exceeded; retry in {wait} s",
                retry_after=wait,
            )

    def close(self) -> None:
        self.redis.close()


def build_limiter(per_minute: int, redis_url: str | None) -> RateLimiter:
    """Shared through Redis when ``redis_url`` is given, else counted in this process."""
    if redis_url:
        return SharedRateLimiter(per_minute, redis_url)
    return RateLimiter(per_minute)


class ConcurrencyGate:
    """Bounds slow outbound work (link analyses) apart from the pool that serves requests.

    At most ``total`` run at once, in threads of their own (``limiter``), so requests waiting
    on a slow site never take the threads that answer everyone else; one account may have at
    most ``per_account`` in flight, and one more is refused with 429 at once.
    """

    def __init__(self, total: int, per_account: int) -> None:
        self.limiter = anyio.CapacityLimiter(total)
        self.per_account = per_account
        self._running: dict[int, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def enter(self, account_id: int) -> Iterator[None]:
        with self._lock:
            running = self._running.get(account_id, 0)
            if running >= self.per_account:
                raise RateLimited(
                    f"at most {self.per_account} analyses of one account run at once; "
                    "wait for one to finish",
                    retry_after=1,
                )
            self._running[account_id] = running + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running.pop(account_id) - 1
                if left:
                    self._running[account_id] = left
