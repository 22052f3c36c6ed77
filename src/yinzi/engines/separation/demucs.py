"""``separation.demucs``: Demucs (Hybrid Transformer Demucs by default) source separation.

The model is one of Demucs's published names (``htdemucs``: drums, bass, other, vocals;
``htdemucs_6s`` adds guitar and piano; also ``htdemucs_ft``, ``mdx_extra``...) or the
signature of a model in a local folder. It comes from ``repo`` (a folder in Demucs's
local-repository format) or, without one, from the download caches or a download on first use
(see ``_demucs_models``). It is loaded on the first ``separate`` and kept on the instance.
Besides the model's sources the engine offers ``accompaniment``, the mixture minus the vocals.

Streaming. The input is processed in chunks of ``chunk_seconds`` (30 s by default) that overlap
by a quarter of a chunk, at most 3 s; the outputs of neighbouring chunks are crossfaded
linearly over the overlap, so seams do not click. Within a chunk, Demucs's ``apply_model``
splits again into the model's own segments (``segment``, ``overlap``) and can average
``shifts`` time-shifted passes. Each chunk is scaled to unit standard deviation before the
model and scaled back after it, as Demucs does for a whole track. Memory holds one chunk and
its outputs; the model runs on ``device`` while the audio stays in main memory.

Invariants: every stem yields exactly as many samples as went in, with the input's channel
count (mono is duplicated to stereo for the model and averaged back); ``accompaniment`` plus
``vocals`` equals the input. ``torch`` and ``demucs`` are imported only when a model is
loaded, so this module imports without the ``yinzi[demucs]`` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from yinzi.engines import availability
from yinzi.engines._torch import resolve_device
from yinzi.engines.separation import _demucs_models
from yinzi.engines.separation._demucs_chunks import Audio, CrossfadeChunker, Piece
from yinzi.engines.separation.base import Block, Progress, check_stems
from yinzi.errors import ConfigurationError

__all__ = ["DemucsSeparator"]

ACCOMPANIMENT = "accompaniment"
MAX_CROSSFADE_SECONDS = 3.0


class DemucsSeparator:
    """Separate music into the sources of a Demucs model, plus ``accompaniment``."""

    name = "separation.demucs"
    sample_rate = 44100
    stems: tuple[str, ...]

    def __init__(
        self,
        *,
        model: str = "htdemucs",
        repo: str | Path | None = None,
        device: str = "auto",
        segment: float | None = None,
        overlap: float = 0.25,
        shifts: int = 0,
        chunk_seconds: float = 30.0,
    ) -> None:
        """Names outside the published set are loaded here, to learn their sources."""
        if chunk_seconds < 1:
            raise ConfigurationError("chunk_seconds must be at least 1")
        if not 0 <= overlap < 1:
            raise ConfigurationError("overlap must lie in [0, 1)")
        if shifts < 0:
            raise ConfigurationError("shifts must not be negative")
        if segment is not None and segment <= 0:
            raise ConfigurationError("segment must be positive")
        self.model = model
        self.repo = repo
        self.device = device
        self.segment = segment
        self.overlap = overlap
        self.shifts = shifts
        self.chunk_seconds = chunk_seconds
        self._loaded: Any = None
        self._device: str | None = None
        sources = _demucs_models.KNOWN_SOURCES.get(model)
        self.stems = _stems_of(sources) if sources else _stems_of(self.load().sources)

    @classmethod
    def availability(
        cls, *, model: str = "htdemucs", repo: str | Path | None = None, **_: object
    ) -> str | None:
        """Why ``model`` cannot be used here without a download, or None when it is on disk."""
        return availability.demucs(model=model, repo=repo)

    @classmethod
    def known_stems(cls, *, model: str = "htdemucs", **_: object) -> tuple[str, ...] | None:
        """The stems of a published ``model``, known without loading it; None for another."""
        sources = _demucs_models.KNOWN_SOURCES.get(model)
        return _stems_of(sources) if sources else None

    def load(self) -> Any:
        """The Demucs model (or bag of models), loaded once and kept."""
        if self._loaded is None:
            device = resolve_device(self.device)
            model = _demucs_models.load(self.model, self.repo)
            _check_segment(model, self.segment)
            if model.samplerate != self.sample_rate:
                raise ConfigurationError(
                    f"Demucs model {self.model!r} runs at {model.samplerate} Hz, "
                    f"not {self.sample_rate}"
                )
            self._loaded, self._device = model, device
        return self._loaded

    def separate(
        self,
        blocks: Iterable[Block],
        stems: Sequence[str],
        progress: Progress | None = None,
    ) -> Iterator[dict[str, Block]]:
        model = self.load()
        self.stems = _stems_of(model.sources)
        check_stems(stems, self.stems)
        chunker: CrossfadeChunker | None = None
        channels = 0
        for block in blocks:
            block = np.asarray(block, np.float32)
            if chunker is None:
                channels = block.shape[0]
                if channels not in (1, 2):
                    raise ValueError(f"Demucs takes mono or stereo, not {channels} channels")
                chunker = self._chunker(model, channels)
            if block.shape[0] != channels:
                raise ValueError(f"block has {block.shape[0]} channels, expected {channels}")
            for piece in chunker.push(block):
                yield self._select(piece, model.sources, stems, progress)
        if chunker is not None:
            for piece in chunker.finish():
                yield self._select(piece, model.sources, stems, progress)

    def _chunker(self, model: Any, channels: int) -> CrossfadeChunker:
        length = int(self.chunk_seconds * self.sample_rate)
        crossfade = int(min(MAX_CROSSFADE_SECONDS * self.sample_rate, length / 4))
        return CrossfadeChunker(
            lambda chunk: self._apply(model, chunk), channels, length, crossfade
        )

    def _apply(self, model: Any, chunk: Audio) -> Audio:
        """Sources ``(sources, channels, n)`` of ``chunk`` ``(channels, n)``."""
        import torch
        from demucs.apply import apply_model

        stereo = np.repeat(chunk, 2, axis=0) if chunk.shape[0] == 1 else chunk
        scale = float(stereo.mean(axis=0).std()) + 1e-8
        mix = torch.from_numpy(np.ascontiguousarray(stereo / scale))[None]
        with torch.inference_mode():
            out = apply_model(
                model,
                mix,
                shifts=self.shifts,
                split=True,
                overlap=self.overlap,
                device=self._device,
                segment=self.segment,
            )
        sources: Audio = (out[0].numpy() * scale).astype(np.float32)
        if chunk.shape[0] == 1:
            sources = sources.mean(axis=1, keepdims=True)
        return sources

    def _select(
        self,
        piece: Piece,
        sources: Sequence[str],
        stems: Sequence[str],
        progress: Progress | None,
    ) -> dict[str, Block]:
        by_name = dict(zip(sources, piece.sources, strict=True))
        out: dict[str, Block] = {}
        for stem in stems:
            if stem == ACCOMPANIMENT:
                out[stem] = piece.mixture - by_name["vocals"]
            else:
                out[stem] = np.ascontiguousarray(by_name[stem])
        if progress is not None:
            progress(piece.end / self.sample_rate)
        return out


def _stems_of(sources: Sequence[str]) -> tuple[str, ...]:
    """A model's sources, plus ``accompaniment`` when one of them is ``vocals``."""
    return (*sources, ACCOMPANIMENT) if "vocals" in sources else tuple(sources)


def _check_segment(model: Any, segment: float | None) -> None:
    """Hybrid Transformer models cannot look at more than they were trained on."""
    if segment is None:
        return
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    if isinstance(model, BagOfModels):
        limit = model.max_allowed_segment
    elif isinstance(model, HTDemucs):
        limit = float(model.segment)
    else:
        return
    if segment > limit:
        raise ConfigurationError(f"segment {segment} s is longer than this model allows ({limit})")
