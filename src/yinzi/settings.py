"""Configuration: environment variables prefixed ``YINZI_``, or an optional ``yinzi.toml``.

Every setting has a default that works on one machine and a line of help. Nested settings use
``__`` in environment names, e.g. ``YINZI_PRICES__TRACK_SEPARATION__PER_MINUTE=3``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Price(BaseModel):
    """Price of one order type: ``max(minimum, per_minute * started minutes of input)``."""

    minimum: int = Field(
        10, ge=0, description="Credits held at create, and the least an order costs."
    )
    per_minute: int = Field(5, ge=0, description="Credits per started minute of input audio.")

    def for_duration(self, seconds: float) -> int:
        started_minutes = max(1, -int(-seconds // 60))
        return max(self.minimum, self.per_minute * started_minutes)


class TextPrice(Price):
    minimum: int = Field(
        5, ge=0, description="Credits held at create, and the least an order costs."
    )
    per_minute: int = Field(2, ge=0, description="Credits per started minute of input audio.")


class VocalRemovalPrice(Price):
    minimum: int = Field(
        10, ge=0, description="Credits held at create, and the least an order costs."
    )
    per_minute: int = Field(0, ge=0, description="Credits per started minute of input audio.")


class StemSplitPrice(Price):
    minimum: int = Field(
        50, ge=0, description="Credits held at create, and the least an order costs."
    )
    per_minute: int = Field(0, ge=0, description="Credits per started minute of input audio.")


class StemIsolationPrice(Price):
    minimum: int = Field(
        20, ge=0, description="Credits held at create, and the least an order costs."
    )
    per_minute: int = Field(0, ge=0, description="Credits per started minute of input audio.")


class BarPrice(BaseModel):
    per_bar: int = Field(1, ge=0, description="Credits per bar of generated music.")


class Prices(BaseModel):
    """One :class:`Price` per order type. A type whose defaults differ gets a Price subclass, so
    that overriding one field from the environment keeps the other's default."""

    track_separation: Price = Price()
    extract_voice: Price = Price()
    extract_music: Price = Price()
    extract_text: Price = TextPrice()
    separate_vocal: Price = VocalRemovalPrice()
    split_stem: Price = StemSplitPrice()
    split_stem_advanced: Price = StemIsolationPrice()
    text_to_music: BarPrice = BarPrice()
    short_video_analyze: int = Field(
        2, ge=0, description="Credits one short-video analysis costs (refunded if it fails)."
    )

    def for_type(self, order_type: str) -> Price:
        if order_type == "text-to-music":
            raise ValueError("text-to-music is priced per bar: use prices.text_to_music")
        price: Price = getattr(self, order_type.replace("-", "_"))
        return price


class FetchSettings(BaseModel):
    allow_private: bool = Field(
        False, description="Allow fetching from loopback/private addresses (tests, local setups)."
    )
    max_bytes: int = Field(1024**3, description="Largest input a URL may deliver, in bytes.")
    timeout_seconds: float = Field(120.0, description="Total time allowed for one download.")
    connect_timeout_seconds: float = Field(10.0, description="Time allowed to connect.")
    max_redirects: int = Field(5, description="Redirect hops followed, each one checked.")
    min_kib_per_second: float = Field(
        16.0,
        ge=0,
        description="Slowest average a download may keep after the grace period (0: any).",
    )
    slow_grace_seconds: float = Field(
        10.0, ge=0, description="Time a download has before its average speed is checked."
    )


class WhisperSettings(BaseModel):
    model: str = Field(
        "base",
        description="Whisper model: an installed one (base, tiny.en), a hub name (downloaded when "
        "online) or a local model folder.",
    )
    device: str = Field("auto", description="cpu, cuda, or auto (CUDA when a GPU is visible).")
    compute_type: str = Field(
        "auto", description="CTranslate2 compute type; auto: int8 on CPU, float16 on GPU."
    )
    download_dir: str | None = Field(
        None, description="Where named models are downloaded and cached (default: the HF cache)."
    )


class DemucsSettings(BaseModel):
    model: str = Field("htdemucs", description="Demucs model: htdemucs (4 stems), htdemucs_6s...")
    repo: str | None = Field(None, description="A local folder of Demucs model files.")
    device: str = Field("auto", description="cpu, cuda, or auto (CUDA when a GPU is visible).")


class MusicGenSettings(BaseModel):
    model: str = Field(
        "facebook/musicgen-small", description="MusicGen model: a hub id or a local folder."
    )
    device: str = Field("auto", description="cpu, cuda, or auto (CUDA when a GPU is visible).")


class LinkSettings(BaseModel):
    engine: str = Field("links.ytdlp", description="Engine that analyses short-video links.")
    cookies: dict[str, str] = Field(
        default_factory=dict,
        description="Platform name to the path of a Netscape cookies.txt file for it.",
    )
    proxy: str | None = Field(None, description="Proxy URL every link analysis goes through.")
    timeout_seconds: float = Field(30.0, description="Time allowed for one link analysis.")
    cache_seconds: float = Field(
        300.0, description="An analysed link's answer is reused this long (still charged)."
    )
    max_concurrent: int = Field(
        16, ge=1, description="Link analyses one API process runs at once (others wait)."
    )
    max_per_account: int = Field(
        4, ge=1, description="Link analyses one account may have in flight (more: 429)."
    )


class S3Settings(BaseModel):
    """Where S3Storage keeps objects; unset credentials fall back to boto3's own chain."""

    endpoint_url: str | None = Field(
        None, description="S3 endpoint URL (unset: AWS S3 for the region)."
    )
    bucket: str = Field("yinzi", description="Bucket for inputs and results; created if missing.")
    region: str | None = Field(None, description="Region (unset: AWS_DEFAULT_REGION or boto3's).")
    access_key_id: str | None = Field(None, description="Access key (unset: boto3's chain).")
    secret_access_key: str | None = Field(None, description="Secret key (unset: boto3's chain).")
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", description="Bucket in the path or in the host name."
    )
    prefix: str = Field("", description="Prefix put before every object key.")
    presign: bool = Field(
        True, description="Download links are presigned S3 URLs (false: this server streams)."
    )
    part_size_mb: int = Field(8, ge=5, description="Part size of multipart uploads, in MiB.")
    max_attempts: int = Field(5, ge=1, description="Tries of one S3 request (botocore retries).")
    retry_mode: Literal["standard", "adaptive"] = Field(
        "standard", description="botocore retry mode."
    )
    connect_timeout_seconds: float = Field(10.0, gt=0, description="Time to connect to S3.")
    read_timeout_seconds: float = Field(60.0, gt=0, description="Time to wait for an answer.")


def _default_models_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "yinzi" / "models"


def _default_data_dir() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "yinzi"


def _default_workers() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class ConsoleSettings(BaseModel):
    signup: bool = Field(
        False, description="Anyone may create an account on the console's sign-up page."
    )
    signup_credits: int = Field(0, ge=0, description="Credits a new sign-up account starts with.")
    session_hours: float = Field(
        12.0, gt=0, description="A console session ends this long after sign-in."
    )
    sign_in_attempts: int = Field(
        5, ge=1, description="Failed sign-ins per email or address before a lockout."
    )
    lockout_minutes: float = Field(
        15.0, gt=0, description="How long failed sign-ins are counted, and a lockout lasts."
    )
    secure_cookies: bool | None = Field(
        None, description="Mark the session cookie Secure (default: when public_url is https)."
    )


class CelerySettings(BaseModel):
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker URL (redis://host:port/db)."
    )
    reap_interval_seconds: float = Field(
        5.0, gt=0, description="How often each Celery worker's reaper looks for stranded orders."
    )
    lost_after_seconds: float = Field(
        60.0,
        gt=0,
        description="A pending order this old whose message is in no queue is sent again (lost "
        "message); a message received this long ago and never acknowledged counts as lost.",
    )


def _default_routes() -> dict[str, str]:
    return {
        "separation.demucs/cuda": "gpu",
        "music.musicgen/cuda": "gpu",
        "transcription.faster_whisper/cuda": "gpu",
        "links": "links",
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="YINZI_",
        env_nested_delimiter="__",
        toml_file="yinzi.toml",
        extra="ignore",
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Database, files and secrets live here (default: the user's data folder).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite in the data folder."
    )
    host: str = Field("127.0.0.1", description="Address `yinzi serve` listens on.")
    port: int = Field(8000, description="Port `yinzi serve` listens on.")
    http_keep_alive_seconds: int = Field(
        5, ge=1, description="An idle keep-alive connection is closed after this many seconds."
    )
    http_header_timeout_seconds: float = Field(
        10.0, gt=0, description="A request's line and headers must arrive in full within this."
    )
    http_limit_concurrency: int = Field(
        512, ge=1, description="Open connections at once; beyond it new ones get 503 and close."
    )
    public_url: str | None = Field(
        None, description="Base URL clients reach this server at (for download links)."
    )
    signing_secret: str | None = Field(
        None, description="Secret that signs download links; generated in the data folder if unset."
    )
    link_ttl_seconds: int = Field(3600, description="How long a download link stays valid.")
    auth_cache_seconds: float = Field(
        5.0, description="A process remembers a checked API key this long (0: check every time)."
    )
    retention_days: float = Field(14, description="Inputs and results are deleted after this.")
    retention_interval_seconds: float = Field(3600, description="How often retention runs.")

    storage: Literal["local", "s3"] = Field(
        "local", description="Where inputs and results live: the data folder, or S3."
    )
    s3: S3Settings = S3Settings()
    queue: Literal["embedded", "celery"] = Field(
        "embedded", description="Order queue backend: embedded worker processes or celery."
    )
    celery: CelerySettings = CelerySettings()
    routes: dict[str, str] = Field(
        default_factory=_default_routes,
        description="Engine/device, engine or family to queue name (JSON); anything else: cpu.",
    )
    worker_queues: list[str] = Field(
        default_factory=list,
        description="Queues this process's workers take orders from (JSON list; empty: all).",
    )
    redis_url: str | None = Field(
        None,
        description="Redis shared by API processes for rate limits (default: the Celery broker "
        "when the queue is celery; none: limits are per process).",
    )
    api_workers: int = Field(
        1, ge=1, le=64, description="API processes `yinzi serve` runs (they share the database)."
    )
    workers: int = Field(default_factory=_default_workers, description="Embedded worker processes.")
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Niceness embedded workers add to their priority, so the API runs first.",
    )
    poll_interval_seconds: float = Field(0.2, description="How often idle workers look for work.")
    lease_seconds: float = Field(
        30.0, description="A claimed order is re-run if its worker is silent this long."
    )
    order_timeout_seconds: float = Field(
        3600.0, description="An order not finished this long after create ends `timeout`."
    )
    max_attempts: int = Field(3, description="Runs of one order before it fails for good.")
    max_running_orders_per_account: int = Field(
        0, ge=0, description="Orders of one account running at once (0: workers - 1, at least 1)."
    )
    max_upload_bytes: int = Field(
        1024**3, ge=1, description="Largest file the upload endpoint takes (larger: 413)."
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest request body of every other endpoint (413)."
    )
    vocal_removal_max_input_bytes: int = Field(
        20 * 1024**2, ge=1, description="Largest vocal-removal `audioUrl` input (Kie's 20 MB)."
    )

    models_dir: Path = Field(
        default_factory=_default_models_dir,
        description="Where `yinzi models install` puts model weights; shared by every data folder.",
    )
    engine_threads: int = Field(
        0,
        ge=0,
        description="CPU threads one worker's engine uses (0: cores / workers, at least 1).",
    )
    separation_engine: str = Field(
        "auto",
        description="Engine for vocals/accompaniment separation (auto: Spleeter when its weights "
        "are installed, else spectral).",
    )
    music_engine: str = Field("music.procedural", description="Engine for text-to-music.")
    stem_engine: str = Field(
        "auto",
        description="Engine for multi-stem splits (auto: Spleeter when its weights are "
        "installed, else spectral).",
    )
    maintenance: bool = Field(
        False,
        description="Refuse new orders, tasks, uploads and analyses in every API while queries "
        "and downloads keep working.",
    )
    rate_limit_per_minute: int = Field(
        120, description="Vocal-removal requests one API key may make per minute (0: no limit)."
    )
    callback_timeout_seconds: float = Field(15.0, description="Time allowed for one callback.")
    callback_attempts: int = Field(3, description="Callback deliveries tried before giving up.")
    callback_concurrency: int = Field(
        4, ge=1, description="Callbacks one worker process delivers at once."
    )
    callback_backoff_seconds: float = Field(
        2.0, description="Wait before the second callback attempt; doubled for each next one."
    )
    transcription_engine: str = Field(
        "auto",
        description="Engine for extract-text orders (auto: faster-whisper when its model is "
        "installed, else PocketSphinx).",
    )
    metrics_token: str | None = Field(
        None, description="Bearer token `/metrics` requires (unset: the endpoint is open)."
    )
    health_timeout_seconds: float = Field(
        2.0, gt=0, description="Time each `/healthz` check may take before it counts as failed."
    )
    whisper: WhisperSettings = WhisperSettings()
    links: LinkSettings = LinkSettings()
    demucs: DemucsSettings = DemucsSettings()
    musicgen: MusicGenSettings = MusicGenSettings()
    prices: Prices = Prices()
    fetch: FetchSettings = FetchSettings()
    console: ConsoleSettings = ConsoleSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'yinzi.db').resolve()}"

    @property
    def running_orders_limit(self) -> int:
        """How many orders of one account may run at once, across every worker."""
        return self.max_running_orders_per_account or max(1, self.workers - 1)

    @property
    def threads(self) -> int:
        """CPU threads for one worker's engine: the cores shared out among the workers."""
        return self.engine_threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def shared_redis_url(self) -> str | None:
        """The Redis API processes share limits through: ``redis_url``, else the Celery broker."""
        if self.redis_url:
            return self.redis_url
        return self.celery.broker_url if self.queue == "celery" else None

    def engine_options(self, name: str) -> dict[str, object]:
        """Constructor options of the engine ``name`` that come from settings."""
        if name == "transcription.faster_whisper":
            w = self.whisper
            return {
                "model": w.model,
                "device": w.device,
                "compute_type": w.compute_type,
                "download_root": w.download_dir,
                "models_dir": str(self.models_dir),
                "cpu_threads": self.threads,
            }
        if name == "separation.spleeter":
            return {"models_dir": str(self.models_dir), "threads": self.threads}
        if name == "separation.demucs":
            d = self.demucs
            return {"model": d.model, "repo": d.repo, "device": d.device}
        if name == "music.musicgen":
            return {"model": self.musicgen.model, "device": self.musicgen.device}
        if name == "links.ytdlp":
            return {
                "cookies": dict(self.links.cookies),
                "proxy": self.links.proxy,
                "timeout_seconds": self.links.timeout_seconds,
            }
        return {}

    def secret(self) -> bytes:
        """The link-signing secret, created in the data folder on first use when none is set."""
        if self.signing_secret:
            return self.signing_secret.encode()
        path = self.data_dir / "signing.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
