"""The separation interface.

A separator takes a stream of float32 blocks shaped ``(channels, samples)`` at its own
``sample_rate`` and yields, block for block, a mapping from stem name to a block of the same
shape. Concatenating a stem's output blocks gives exactly as many samples as the input had, so
callers can stream arbitrarily long audio through it with bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from yinzi.errors import Unsupported

Block = npt.NDArray[np.float32]
Progress = Callable[[float], None]
"""Called with the number of input seconds processed so far."""


class Separator(Protocol):
    name: str
    sample_rate: int
    stems: tuple[str, ...]
    """Stems this engine can produce, e.g. ``("vocals", "accompaniment")``."""

    def separate(
        self,
        blocks: Iterable[Block],
        stems: Sequence[str],
        progress: Progress | None = None,
    ) -> Iterator[dict[str, Block]]:
        """Yield output blocks for each requested stem (a subset of ``self.stems``)."""
        ...


class UnknownStems(Unsupported, ValueError):
    """Stems were asked of an engine that does not make them (an order fails ``unsupported``)."""


def check_stems(stems: Sequence[str], known: Sequence[str]) -> None:
    """Refuse stems the engine does not make, naming the ones it does."""
    unknown = [stem for stem in stems if stem not in known]
    if unknown:
        raise UnknownStems(f"unknown stem(s) {unknown}; this engine makes {tuple(known)}")
