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

from yinzi.errors import ConfigurationError, RateLimited

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
    in a window, not N times as many. Keys are stored hashed.

    While Redis cannot be reached the process counts in its own bucket, so an outage never
    refuses every request: after a failed request Redis is left alone for ``backoff_seconds``
    (each request in the meantime is counted here, without waiting on Redis), then tried again.
    The outage is logged once when it starts and once when Redis answers again."""

    def __init__(
        self,
        per_minute: int,
        redis_url: str,
        prefix: str = "yinzi:rate:",
        *,
        backoff_seconds: float = 5.0,
    ) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise ConfigurationError(
                "rate limits shared through Redis (YINZI_REDIS_URL, or the Celery broker) need "
                "the redis package: pip install 'yinzi[celery]'"
            ) from exc

        super().__init__(per_minute)
        self.prefix = prefix
        self.backoff_seconds = backoff_seconds
        self.redis = redis.Redis.from_url(
            redis_url, socket_timeout=1.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0)
        )
        self._retry_at = 0.0
        self._down = False

    def hit(self, key: str) -> None:
        if self.per_minute <= 0:
            return
        if time.monotonic() < self._retry_at:
            super().hit(key)
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
            self._failed(exc)
            super().hit(key)
            return
        self._answered()
        if count > self.per_minute:
            wait = max(1, math.ceil((window + 1) * 60 - now))
            raise RateLimited(
                f"rate limit of {self.per_minute} requests per minute exceeded; retry in {wait} s",
                retry_after=wait,
            )

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.backoff_seconds
            started, self._down = not self._down, True
        if started:
            log.warning(
                "rate limits counted in this process only until Redis answers (tried again "
                "every %g s): %s",
                self.backoff_seconds,
                exc,
            )

    def _answered(self) -> None:
        if not self._down:
            return
        with self._lock:
            ended, self._down = self._down, False
        if ended:
            log.warning("Redis answers again: rate limits are shared again")

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
