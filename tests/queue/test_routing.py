"""Routing: the queue an order goes to, from its engine, the engine's device and the routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.context import Context
from yinzi.engines import registry
from yinzi.queue.routing import engine_for, queue_for
from yinzi.services import accounts, orders, stem_names
from yinzi.settings import DemucsSettings, MusicGenSettings, Settings, WhisperSettings

from helpers import User, make_settings


def test_weight_free_and_cpu_engines_go_to_the_cpu_queue(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, whisper=WhisperSettings(device="cpu"))
    for order_type in orders.ORDER_KINDS:
        assert queue_for(settings, order_type) == "cpu", order_type


def test_gpu_engines_on_cuda_go_to_the_gpu_queue(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        separation_engine="separation.demucs",
        stem_engine="separation.spleeter",
        transcription_engine="transcription.faster_whisper",
        music_engine="music.musicgen",
        demucs=DemucsSettings(device="cuda"),
        whisper=WhisperSettings(device="cuda:1"),
        musicgen=MusicGenSettings(device="cuda"),
    )
    assert queue_for(settings, "track-separation") == "gpu"
    assert queue_for(settings, "split_stem") == "cpu"  # the stem engine is Spleeter
    assert queue_for(settings, "extract-text") == "gpu"
    assert queue_for(settings, "text-to-music") == "gpu"


def test_the_same_engines_on_cpu_stay_on_the_cpu_queue(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        separation_engine="separation.demucs",
        music_engine="music.musicgen",
        demucs=DemucsSettings(device="cpu"),
        musicgen=MusicGenSettings(device="cpu"),
    )
    assert queue_for(settings, "extract-voice") == "cpu"
    assert queue_for(settings, "text-to-music") == "cpu"


def test_routes_match_engine_and_device_then_engine_then_family(tmp_path: Path) -> None:
    routes = {
        "separation.demucs/cpu": "slow",
        "separation.spectral": "dsp",
        "transcription": "speech",
    }
    settings = make_settings(
        tmp_path,
        routes=routes,
        separation_engine="separation.demucs",
        stem_engine="separation.spectral",
        demucs=DemucsSettings(device="cpu"),
    )
    assert queue_for(settings, "track-separation") == "slow"
    assert queue_for(settings, "split_stem") == "dsp"
    assert queue_for(settings, "extract-text") == "speech"
    assert queue_for(settings, "text-to-music") == "cpu"
    assert (
        engine_for(settings, "extract-text")
        == registry.choose("transcription", "auto", settings.engine_options)[0]
    )


def test_auto_engines_are_routed_as_the_engine_auto_picks(tmp_path: Path) -> None:
    """``auto`` is resolved as a worker resolves it, so a route by engine and device applies:
    here Whisper's weights are a local folder and its device is CUDA, Spleeter's are absent."""
    whisper_model = tmp_path / "whisper-model"
    whisper_model.mkdir()
    settings = make_settings(
        tmp_path,
        models_dir=tmp_path / "no-models",
        whisper=WhisperSettings(model=str(whisper_model), device="cuda"),
        routes={"transcription.faster_whisper/cuda": "gpu", "separation.spectral": "dsp"},
    )
    assert settings.transcription_engine == settings.separation_engine == "auto"
    assert engine_for(settings, "extract-text") == "transcription.faster_whisper"
    assert queue_for(settings, "extract-text") == "gpu"
    assert engine_for(settings, "extract-voice") == "separation.spectral"
    assert queue_for(settings, "extract-voice") == "dsp"
    assert queue_for(settings, "split_stem") == "dsp"


def test_the_auto_choice_follows_what_is_installed(tmp_path: Path) -> None:
    missing = WhisperSettings(model=str(tmp_path / "absent"), device="cuda")
    settings = make_settings(
        tmp_path,
        whisper=missing,
        routes={"transcription.faster_whisper/cuda": "gpu", "transcription": "speech"},
    )
    assert engine_for(settings, "extract-text") != "transcription.faster_whisper"
    assert queue_for(settings, "extract-text") == "speech"


def test_every_order_type_of_every_dialect_is_routed_by_its_family(tmp_path: Path) -> None:
    """Open API types, the vocal-removal types and text-to-music all have a family key."""
    from yinzi.api.vocal_removal import TYPES

    families = {"separation": "sep", "transcription": "asr", "music": "compose"}
    settings = make_settings(tmp_path, routes=families)
    dialect_types = {*TYPES, stem_names.ORDER_TYPE, "text-to-music", "extract-text"}
    assert dialect_types <= set(orders.ORDER_KINDS)
    for order_type, kind in orders.ORDER_KINDS.items():
        assert queue_for(settings, order_type) == families[kind.family], order_type


def test_an_unknown_order_type_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown order type 'karaoke'"):
        queue_for(make_settings(tmp_path), "karaoke")


def test_routes_and_worker_queues_come_from_json_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YINZI_ROUTES", '{"separation": "gpu"}')
    monkeypatch.setenv("YINZI_WORKER_QUEUES", '["gpu", "links"]')
    settings = Settings(data_dir=tmp_path)
    assert settings.routes == {"separation": "gpu"}
    assert settings.worker_queues == ["gpu", "links"]
    assert queue_for(settings, "extract-music") == "gpu"


def test_an_order_keeps_the_queue_it_was_routed_to_and_only_its_workers_see_it(
    ctx: Context, user: User
) -> None:
    to_gpu = ctx.settings.model_copy(update={"routes": {"separation": "gpu"}})
    with ctx.db.write() as s:
        account = accounts.find(s, user.email)
        gpu = orders.create(s, to_gpu, account, "extract-voice", "", {}).order_no
        cpu = orders.create(s, ctx.settings, account, "extract-voice", "", {}).order_no
    on_cpu = ctx.settings.model_copy(update={"worker_queues": ["cpu"]})
    on_gpu = ctx.settings.model_copy(update={"worker_queues": ["gpu"]})
    assert orders.next_claimable(ctx.db, on_cpu) == [cpu]
    assert orders.next_claimable(ctx.db, on_gpu) == [gpu]
    assert orders.claim(ctx.db, on_cpu, gpu) is None
    assert orders.claim(ctx.db, on_gpu, gpu) is not None
