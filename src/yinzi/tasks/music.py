"""Text-to-music orders: compose from the prompt and encode the clip; priced per bar.

Progress is reported in bars made (of the ``length`` asked for), as the runner expects."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from yinzi import media
from yinzi.db.models import Order
from yinzi.engines.music.base import Composer, MusicRequest
from yinzi.engines.separation.base import Progress
from yinzi.media import OutputFormat
from yinzi.settings import Settings
from yinzi.tasks.base import Output, TaskResult, engine


def run(
    settings: Settings, order: Order, source: Path | None, work: Path, check: Progress
) -> TaskResult:
    composer: Composer = engine(settings, settings.music_engine, "music")
    bars = int(order.options["length"])
    request = MusicRequest(str(order.options["text"]), bars, int(order.options["seed"]))
    composition = composer.compose(request)
    fmt = cast(OutputFormat, order.options.get("format", "mp3"))
    path = work / f"music.{fmt}"
    with media.AudioWriter(path, format=fmt, sample_rate=composition.sample_rate) as writer:
        for block in composition.blocks:
            writer.write(block)
            check(writer.samples_written / composition.sample_rate * composition.tempo / 240)
    seconds = writer.samples_written / composition.sample_rate
    price = settings.prices.text_to_music.per_bar * bars
    return TaskResult([Output(path, "music")], seconds, price)
