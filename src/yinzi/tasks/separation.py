"""Separation orders: stream the input through the engine into one encoder per stem.

The stems are encoded in parallel (:class:`~yinzi.media.StemWriter`: one thread per stem, bounded
queues) while the engine goes on; if the engine or an encoder fails, no partial file is left.

``split_stem_advanced`` keeps one stem and the rest of the mix: the rest is computed here, block
for block, as the decoded mixture minus the stem, so the two results always add up to the input
(before encoding), whichever engine made the stem. The input is kept only until the engine has
answered it, so memory stays bounded by the engine's look-ahead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import numpy as np

from yinzi import media
from yinzi.db.models import Order
from yinzi.engines.separation.base import Block, Progress, Separator
from yinzi.errors import EngineError
from yinzi.media import OutputFormat
from yinzi.services import stem_names
from yinzi.services.orders import ORDER_KINDS
from yinzi.settings import Settings
from yinzi.tasks.base import Output, TaskResult, engine


def run(
    settings: Settings, order: Order, source: Path | None, work: Path, check: Progress
) -> TaskResult:
    assert source is not None
    if order.order_type == stem_names.ORDER_TYPE:
        return isolate(settings, order, source, work, check)
    kind = ORDER_KINDS[order.order_type]
    fmt = cast(OutputFormat, order.options.get("format", "mp3"))
    name = settings.separation_engine if kind.outputs else settings.stem_engine
    separator: Separator = engine(settings, name, "separation")
    # an empty output list asks for every stem the engine makes, apart from the complement
    stems = kind.outputs or tuple(s for s in separator.stems if s != "accompaniment")
    outputs = {stem: work / f"{stem}.{fmt}" for stem in stems}
    blocks = media.read_blocks(source, sample_rate=separator.sample_rate, channels=2)
    with media.StemWriter(outputs, format=fmt, sample_rate=separator.sample_rate) as writer:
        for out in separator.separate(blocks, list(stems), progress=check):
            writer.write(out)
    seconds = writer.samples_written[stems[0]] / separator.sample_rate
    return TaskResult([Output(path, stem) for stem, path in outputs.items()], seconds)


def isolate(
    settings: Settings, order: Order, source: Path, work: Path, check: Progress
) -> TaskResult:
    """``split_stem_advanced``: the stem holding ``options["stemName"]``, and the mix without it."""
    choice = stem_names.find(order.options.get("stemName", ""))
    if choice is None:
        raise EngineError(f"unknown stemName {order.options.get('stemName')!r}")
    fmt = cast(OutputFormat, order.options.get("format", "mp3"))
    separator: Separator = engine(settings, settings.stem_engine, "separation")
    if choice.stem not in separator.stems:
        raise EngineError(
            f"the stem engine {separator.name} makes no {choice.stem} stem for {choice.name!r}"
        )
    kept, rest = choice.business, stem_names.REST
    paths = {name: work / f"{name}.{fmt}" for name in (kept, rest)}
    tape = Tape(media.read_blocks(source, sample_rate=separator.sample_rate, channels=2))
    with media.StemWriter(paths, format=fmt, sample_rate=separator.sample_rate) as writer:
        for out in separator.separate(tape, [choice.stem], progress=check):
            stem = out[choice.stem]
            if stem.shape[-1]:
                writer.write({kept: stem, rest: tape.take(stem.shape[-1]) - stem})
    seconds = writer.samples_written[kept] / separator.sample_rate
    return TaskResult([Output(path, name) for name, path in paths.items()], seconds)


class Tape:
    """Passes input blocks through and keeps them until ``take`` hands them back, so output
    blocks can be matched with the input samples they came from, however the engine cuts them."""

    def __init__(self, blocks: Iterable[Block]) -> None:
        self._blocks = blocks
        self._kept: deque[Block] = deque()

    def __iter__(self) -> Iterator[Block]:
        for block in self._blocks:
            self._kept.append(block)
            yield block

    def take(self, samples: int) -> Block:
        """The next ``samples`` input samples, in order; ``(channels, samples)``."""
        pieces: list[Block] = []
        while samples > 0:
            head = self._kept.popleft()
            pieces.append(head[:, :samples])
            if head.shape[-1] > samples:
                self._kept.appendleft(head[:, samples:])
            samples -= pieces[-1].shape[-1]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)
