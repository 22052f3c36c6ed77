"""Everything a process needs to serve or run orders, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from yinzi.db import Database
from yinzi.fetcher import FetchPolicy, GuardedFetcher
from yinzi.services.accounts import KeyCache
from yinzi.services.analyze import LinkState
from yinzi.services.ratelimit import RateLimiter, build_limiter
from yinzi.settings import Settings
from yinzi.storage import LocalStorage, Storage


@dataclass
class Context:
    settings: Settings
    db: Database
    storage: Storage
    fetcher: GuardedFetcher
    keys: KeyCache
    limiter: RateLimiter
    links: LinkState = field(default_factory=LinkState)

    @classmethod
    def build(cls, settings: Settings) -> Context:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        storage = build_storage(settings)
        return cls(
            settings=settings,
            db=Database(settings.db_url),
            storage=storage,
            fetcher=GuardedFetcher(FetchPolicy.from_settings(settings.fetch)),
            keys=KeyCache(settings.auth_cache_seconds),
            limiter=build_limiter(settings.rate_limit_per_minute, settings.shared_redis_url),
        )

    def close(self) -> None:
        self.links.close()
        self.limiter.close()
        self.db.dispose()


def build_storage(settings: Settings) -> Storage:
    """The storage backend ``settings.storage`` names (boto3 is imported only for S3)."""
    if settings.storage == "s3":
        from yinzi.storage.s3 import S3Storage

        return S3Storage(
            settings.s3,
            base_url=settings.base_url,
            secret=settings.secret(),
            check_timeout=settings.health_timeout_seconds,
        )
    return LocalStorage(
        settings.data_dir / "files", base_url=settings.base_url, secret=settings.secret()
    )
