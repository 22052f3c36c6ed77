"""Transcription orders: speech to text, written as SRT, WebVTT, JSON segments and plain text."""

from __future__ import annotations

from pathlib import Path

from yinzi import media
from yinzi.db.models import Order
from yinzi.engines.separation.base import Progress
from yinzi.engines.transcription.base import Transcriber
from yinzi.media import captions
from yinzi.settings import Settings
from yinzi.tasks.base import Output, SampleCounter, TaskResult, engine


def run(
    settings: Settings, order: Order, source: Path | None, work: Path, check: Progress
) -> TaskResult:
    assert source is not None
    transcriber: Transcriber = engine(settings, settings.transcription_engine, "transcription")
    language = order.options.get("language")
    blocks = SampleCounter(
        media.read_blocks(source, sample_rate=transcriber.sample_rate, channels=1)
    )
    result = transcriber.transcribe(
        blocks, language=None if language in (None, "auto") else str(language), progress=check
    )
    segments = list(result.segments)
    seconds = blocks.samples / transcriber.sample_rate
    files = captions.write_all(
        work, segments, result.language, seconds, result.language_probability
    )
    return TaskResult([Output(f.path, f.business) for f in files], seconds)
