"""The engine registry: one table, lazy loading, and clear reasons when an engine cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.engines import registry
from yinzi.engines.registry import EngineSpec
from yinzi.errors import ConfigurationError
from yinzi.settings import Settings


def test_every_registered_engine_is_named_by_its_family() -> None:
    for name, spec in registry.ENGINES.items():
        assert name.startswith(spec.family + ".")


def test_a_duplicate_or_misnamed_entry_fails_at_once() -> None:
    with pytest.raises(ConfigurationError, match="registered twice"):
        registry.register(registry.ENGINES["separation.spectral"])
    bad = EngineSpec("separation.x", "music", "m:C", "a misfiled engine")
    with pytest.raises(ConfigurationError, match="must be named"):
        registry.register(bad)


def test_an_engine_of_another_family_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="is a separation engine"):
        registry.load("separation.spectral", "transcription")


def test_a_missing_package_names_the_extra_that_brings_it(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = EngineSpec(
        "separation.imaginary", "separation", "nowhere:Nothing", "", ("no_such_pkg",), "fancy"
    )
    monkeypatch.setitem(registry.ENGINES, spec.name, spec)
    assert registry.check(spec.name) == (
        "needs the Python package 'no_such_pkg' (pip install 'yinzi[fancy]')"
    )
    with pytest.raises(ConfigurationError, match="no_such_pkg"):
        registry.load(spec.name, "separation")


def test_unknown_engines_list_the_known_ones() -> None:
    assert "separation.spectral" in (registry.check("separation.nope") or "")


def test_whisper_availability_says_how_to_get_a_missing_model(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    from yinzi.engines.transcription.testing import build_tiny_whisper

    name = "transcription.faster_whisper"
    missing = registry.check(name, {"model": "tiny", "download_root": str(tmp_path / "cache")})
    assert missing is not None and "yinzi models install whisper-tiny" in missing
    folder = build_tiny_whisper(tmp_path / "tiny")
    assert registry.check(name, {"model": str(folder)}) is None


def test_auto_picks_the_first_engine_that_can_run_and_says_why(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    empty = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "no-models")
    name, why = registry.choose("transcription", "auto", empty.engine_options)
    assert name == "transcription.pocketsphinx"
    assert "not transcription.faster_whisper: the model 'whisper-base' is not installed" in why
    assert "yinzi models install whisper-base" in why
    assert registry.choose("transcription", "transcription.pocketsphinx", empty.engine_options) == (
        "transcription.pocketsphinx",
        "configured",
    )
    name, _ = registry.choose("separation", "auto", empty.engine_options)
    assert name == "separation.spectral"


def test_auto_with_no_engine_that_can_run_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.AUTO, "transcription", ("transcription.faster_whisper",))
    empty = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "no-models")
    with pytest.raises(ConfigurationError, match="no transcription engine can run here"):
        registry.choose("transcription", "auto", empty.engine_options)


def test_yinzi_engines_says_what_auto_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from yinzi.cli import app

    monkeypatch.setenv("YINZI_MODELS_DIR", str(tmp_path / "no-models"))
    out = CliRunner().invoke(app, ["engines"]).stdout
    block = out[out.index("transcription.pocketsphinx:") :]
    assert "used for: extract-text" in block
    assert "chosen by auto: not transcription.faster_whisper" in block
