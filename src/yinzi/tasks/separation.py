"""Separation orders: stream the input through the engine into one encoder per stem."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from yinzi import media
from yinzi.db.models import Order
from yinzi.engines.separation.base import Progress, Separator
from yinzi.media import OutputFormat
from yinzi.services.orders import ORDER_KINDS
from yinzi.settings import Settings
from yinzi.tasks.base import Output, TaskResult, engine


def run(
    settings: Settings, order: Order, source: Path | None, work: Path, check: Progress
) -> TaskResult:
    assert source is not None
    kind = ORDER_KINDS[order.order_type]
    fmt = cast(OutputFormat, order.options.get("format", "mp3"))
    name = settings.separation_engine if kind.outputs else settings.stem_engine
    separator: Separator = engine(settings, name, "separation")
    # an empty output list asks for every stem the engine makes, apart from the complement
    stems = kind.outputs or tuple(s for s in separator.stems if s != "accompaniment")
    outputs = {stem: work / f"{stem}.{fmt}" for stem in stems}
    writers = {
        stem: media.AudioWriter(path, format=fmt, sample_rate=separator.sample_rate, channels=2)
        for stem, path in outputs.items()
    }
    blocks = media.read_blocks(source, sample_rate=separator.sample_rate, channels=2)
    try:
        for out in separator.separate(blocks, list(stems), progress=check):
            for stem, block in out.items():
                writers[stem].write(block)
    finally:
        for writer in writers.values():
            writer.close()
    seconds = next(iter(writers.values())).samples_written / separator.sample_rate
    return TaskResult([Output(path, stem) for stem, path in outputs.items()], seconds)
