"""The task interface, and the per-process cache of loaded engines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from yinzi.db.models import Order
from yinzi.engines import registry
from yinzi.engines.separation.base import Progress
from yinzi.settings import Settings


@dataclass(frozen=True, slots=True)
class Output:
    path: Path
    business: str


@dataclass(frozen=True, slots=True)
class TaskResult:
    outputs: list[Output]
    seconds: float
    """Seconds of audio decoded (or made): the order's price is computed from it..."""
    price: int | None = None
    """...unless the task knows its price itself (e.g. per bar of generated music)."""


class Task(Protocol):
    def __call__(
        self, settings: Settings, order: Order, source: Path | None, work: Path, check: Progress
    ) -> TaskResult: ...


_engines: dict[tuple[str, str], Any] = {}
_chosen: dict[tuple[str, str, str], str] = {}


def engine(settings: Settings, name: str, family: str) -> Any:
    """The engine ``name`` (or the one ``auto`` picks, decided once per process), loaded once
    per process for each set of options from settings."""
    choice = (family, name, str(settings.models_dir))
    if choice not in _chosen:
        _chosen[choice] = registry.choose(family, name, settings.engine_options)[0]
    name = _chosen[choice]
    options = settings.engine_options(name)
    key = (name, repr(sorted(options.items())))
    if key not in _engines:
        _engines[key] = registry.load(name, family, **options)
    return _engines[key]


class SampleCounter:
    """Passes audio blocks through and counts their samples."""

    def __init__(self, blocks: Iterable[npt.NDArray[np.float32]]) -> None:
        self._blocks = blocks
        self.samples = 0

    def __iter__(self) -> Iterator[npt.NDArray[np.float32]]:
        for block in self._blocks:
            self.samples += block.shape[-1]
            yield block
