"""Routing: the queue an order goes to, from its engine, the engine's device and the routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from yinzi.context import Context
from yinzi.queue.routing import engine_for, queue_for
from yinzi.services import accounts, orders
from yinzi.settings import DemucsSettings, MusicGenSettings, Settings, WhisperSettings

from helpers import User, make_settings


def test_weight_free_and_cpu_engines_go_to_the_cpu_queue(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
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
    assert engine_for(settings, "extract-text") == "transcription.auto"


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
