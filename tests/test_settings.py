"""Settings: environment overrides, prices, the signing secret, and complete documentation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from yinzi.settings import Price, Settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _env_names(model: type[BaseModel], prefix: str = "YINZI_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(prefix + name.upper())
    return names


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [name for name in _env_names(Settings) if f"`{name}`" not in text]
    assert not missing, f"undocumented settings in docs/configuration.md: {missing}"


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YINZI_PRICES__TRACK_SEPARATION__PER_MINUTE", "3")
    monkeypatch.setenv("YINZI_FETCH__ALLOW_PRIVATE", "true")
    settings = Settings()
    assert settings.prices.track_separation.per_minute == 3
    assert settings.prices.track_separation.minimum == 10
    assert settings.fetch.allow_private is True


@pytest.mark.parametrize(
    ("seconds", "price"), [(0.5, 10), (60, 10), (120, 10), (120.01, 15), (180, 15), (3600, 300)]
)
def test_price_per_started_minute(seconds: float, price: int) -> None:
    assert Price(minimum=10, per_minute=5).for_duration(seconds) == price


def test_the_signing_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.secret()
    assert len(first) >= 32 and first == Settings(data_dir=tmp_path).secret()
    assert (tmp_path / "signing.key").stat().st_mode & 0o077 == 0
    assert Settings(data_dir=tmp_path, signing_secret="given").secret() == b"given"


@pytest.mark.parametrize(
    ("cores", "workers", "engine_threads", "threads"),
    [(2, 1, 0, 2), (2, 2, 0, 1), (8, 3, 0, 2), (1, 4, 0, 1), (2, 2, 2, 2)],
)
def test_engine_threads_reach_the_engines_that_use_them(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int, engine_threads: int, threads: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    settings = Settings(workers=workers, engine_threads=engine_threads)
    assert settings.engine_options("separation.spleeter")["threads"] == threads
    assert settings.engine_options("transcription.faster_whisper")["cpu_threads"] == threads
