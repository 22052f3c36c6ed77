"""``separation.spleeter``: Deezer's Spleeter 2-stem U-Nets, run in numpy, with a better finish.

Method. A streaming STFT (4096-point Hann, hop 1024) of the mixture; the magnitudes of the
lowest 1024 bins (0 to 11 kHz), stereo as two channels, are cut into patches of 512 frames
(about 12 s) and each patch goes through two U-Nets (``_spleeter_net``), one per stem, each
giving a soft mask. From there stock Spleeter takes each stem's squared estimate over the sum
of both and leaves everything above 11 kHz out of both stems. This engine, by default, instead
(``_wiener``) carries the masks on above 11 kHz from the top octave of the modelled band, and
combines the two stems' estimates with a stereo Wiener filter (one EM step), with the
accompaniment the mixture minus the vocals. ``SpleeterOptions(extension="zeros",
filter="ratio")`` gives stock Spleeter's output.

Instruments. When ``drums``, ``bass`` or ``other`` is requested, the accompaniment's magnitudes
are split by harmonic/percussive median filtering and a bass crossover (``_stems``); the three
shares of the accompaniment add up to it, so ``vocals + drums + bass + other`` is the mixture.

Weights are the ``spleeter-2stems`` model (``yinzi models install spleeter-2stems``), verified
and loaded on the first ``separate`` by a restricted unpickler (``_checkpoint``); torch is never
imported.

Threads. With ``threads=1`` everything runs in the calling thread and numpy's BLAS is limited to
one thread. With two or more, the two networks run at once in two threads (numpy releases the
GIL in matrix products and array arithmetic), each with ``threads // 2`` BLAS threads, and so do
the two halves of the Wiener filter's bins and the instrument split's two median filters: BLAS
alone would spread only the matrix products, and two threads each running a whole network also
share out the convolutions' copies and sums. The result is the same as with one thread, to the
bit.

Invariants. Patches sit at absolute frame positions and are processed once the frames after
them that the instrument split looks at have arrived, so the output does not depend on how the
input was cut into blocks. Each stem yields exactly as many samples as went in (the tail is
flushed with zero padding, a partial last patch is zero-padded for the networks). State is one
patch and a little look-ahead, so memory does not grow with the stream's duration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

from yinzi import models
from yinzi.engines import availability
from yinzi.engines.separation._checkpoint import load_arrays
from yinzi.engines.separation._spleeter_net import UNet
from yinzi.engines.separation._stems import StemSplitter
from yinzi.engines.separation._stft import ChunkStream, Frames, hann, separate_blocks
from yinzi.engines.separation._wiener import (
    EXTENSIONS,
    Floats,
    extend,
    ratio_filter,
    wiener_filter,
)
from yinzi.engines.separation.base import Block, Progress, check_stems
from yinzi.errors import ConfigurationError

__all__ = ["SpleeterOptions", "SpleeterSeparator"]

MODEL = availability.SPLEETER_MODEL
N_FFT = 4096
HOP = 1024
MODELLED_BINS = 1024
PATCH_FRAMES = 512
SPLIT_FRAMES = 128  # frames split into instruments at once
INSTRUMENTS = ("drums", "bass", "other")
FILTERS = ("ratio", "wiener")
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class SpleeterOptions:
    """How the networks' masks become stems; the defaults are generic, not fitted to any clip."""

    extension: str = "top"  # above 11 kHz: "zeros" (stock), "average" (Spleeter's), "top"
    filter: str = "wiener"  # "ratio" (stock: power ratio of the estimates) or "wiener"
    power: float = 2.0  # exponent of the ratio filter (stock: 2)
    percussive_frames: int = 15  # time median for the harmonic estimate (about 0.35 s)
    percussive_bins: int = 35  # frequency median for the percussive estimate (about 370 Hz)
    bass_cut_hz: float = 250.0  # crossover between bass and other for pitched sound


class SpleeterSeparator:
    """Vocals and accompaniment from Spleeter's networks; drums, bass and other split from it."""

    name: str = "separation.spleeter"
    sample_rate: int = 44100
    stems: tuple[str, ...] = ("vocals", "accompaniment", *INSTRUMENTS)

    def __init__(
        self,
        *,
        models_dir: str | Path,
        threads: int = 1,
        options: SpleeterOptions | None = None,
        **overrides: Any,
    ) -> None:
        """Use ``options`` (default: `SpleeterOptions()`) with any field overridden by name."""
        self.models_dir = Path(models_dir)
        self.threads = max(1, threads)
        self.options = replace(options or SpleeterOptions(), **overrides)
        if self.options.extension not in EXTENSIONS:
            raise ConfigurationError(f"extension must be one of {EXTENSIONS}")
        if self.options.filter not in FILTERS:
            raise ConfigurationError(f"filter must be one of {FILTERS}")
        self._nets: tuple[UNet, UNet] | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def availability(cls, *, models_dir: str | Path, **_: object) -> str | None:
        """Why the weights cannot be used from ``models_dir``, or None when they are installed."""
        return availability.spleeter(models_dir=models_dir)

    def load(self) -> tuple[UNet, UNet]:
        """The vocals and accompaniment networks, verified and loaded once."""
        if self._nets is None:
            folder = models.require(MODEL, self.models_dir)
            vocals = UNet(load_arrays(folder / "vocals.ckpt"))
            self._nets = (vocals, UNet(load_arrays(folder / "accompaniment.ckpt")))
        return self._nets

    def separate(
        self,
        blocks: Iterable[Block],
        stems: Sequence[str],
        progress: Progress | None = None,
    ) -> Iterator[dict[str, Block]]:
        check_stems(stems, self.stems)
        nets = self.load()
        executor = self._executor()
        blas = self.threads if executor is None else self.threads // 2

        def open_stream(channels: int) -> _Stream:
            return _Stream(channels, self.sample_rate, nets, self.options, stems, executor, blas)

        return separate_blocks(blocks, open_stream, stems, self.sample_rate, progress)

    def _executor(self) -> Executor | None:
        """The second thread's pool when there are two threads or more, made once; else None."""
        if self.threads < 2:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="spleeter")
        return self._pool


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _blas_threads(threads: int) -> AbstractContextManager[object]:
    """Numpy's BLAS limited to ``threads`` threads for the body, restored after, so workers do
    not oversubscribe the cores they share."""
    limiter: AbstractContextManager[object] = _controller().limit(limits=threads, user_api="blas")
    return limiter


class _Stream(ChunkStream):
    """Separation state for one stream of blocks with a fixed channel count."""

    def __init__(
        self,
        channels: int,
        rate: int,
        nets: tuple[UNet, UNet],
        options: SpleeterOptions,
        stems: Sequence[str],
        executor: Executor | None,
        blas_threads: int,
    ) -> None:
        if channels not in (1, 2):
            raise ValueError(f"Spleeter takes mono or stereo, not {channels} channels")
        splitter = None
        if any(stem in INSTRUMENTS for stem in stems):
            splitter = StemSplitter(
                np.arange(N_FFT // 2 + 1, dtype=np.float64) * rate / N_FFT,
                time_frames=options.percussive_frames,
                freq_bins=options.percussive_bins,
                bass_cut_hz=options.bass_cut_hz,
                kick_cut_hz=0.0,
                future_limit=PATCH_FRAMES,
                executor=executor,
            )
        self._lookahead = splitter.lookahead if splitter else 0
        super().__init__(channels, N_FFT, HOP, stems, PATCH_FRAMES, self._lookahead, hann(N_FFT))
        self._splitter = splitter
        self._nets = nets
        self._options = options
        self._executor = executor
        self._blas_threads = blas_threads

    def push(self, block: Block) -> dict[str, Block]:
        with _blas_threads(self._blas_threads):
            return super().push(block)

    def finish(self) -> dict[str, Block]:
        with _blas_threads(self._blas_threads):
            return super().finish()

    def _both(self, work: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        """``work`` on each of ``items``, at once when there is a second thread."""
        if self._executor is None:
            return [work(item) for item in items]
        return list(self._executor.map(work, items))

    def separate(self, spectra: Frames, count: int) -> dict[str, Frames]:
        """Every stem's spectra for the first ``count`` frames of ``spectra``."""
        mixture = spectra[:, :count]
        mags = np.abs(mixture)
        patch = np.zeros((2, PATCH_FRAMES, MODELLED_BINS), np.float32)
        patch[:, :count] = mags[:, :, :MODELLED_BINS]  # a mono channel goes to both
        masks = [mask[:, :count] for mask in self._both(lambda net: net(patch), self._nets)]
        if self.channels == 1:
            masks = [mask.mean(axis=0, keepdims=True) for mask in masks]
        bins = mags.shape[-1]
        estimates = [extend(mask, bins, self._options.extension) * mags for mask in masks]
        if self._options.filter == "wiener" and self.channels == 2:
            vocals, accompaniment = self._wiener(mixture, estimates)
        else:
            vocals, accompaniment = ratio_filter(mixture, estimates, self._options.power)
        out = {"vocals": vocals, "accompaniment": accompaniment}
        if self._splitter is not None:
            out.update(self._instruments(accompaniment, spectra[:, count:]))
        return out

    def _wiener(self, mixture: Frames, estimates: list[Floats]) -> list[Frames]:
        """`wiener_filter`, on the lower and upper half of the bins at once with two threads."""
        if self._executor is None:
            return wiener_filter(mixture, estimates)
        cut = mixture.shape[-1] // 2
        halves = [
            (mixture[..., part], [e[..., part] for e in estimates])
            for part in (slice(None, cut), slice(cut, None))
        ]
        low, high = self._both(lambda half: wiener_filter(*half), halves)
        return [np.concatenate(pair, axis=-1) for pair in zip(low, high, strict=True)]

    def _instruments(self, accompaniment: Frames, ahead: Frames) -> dict[str, Frames]:
        """Drums, bass and other, which add up to ``accompaniment``.

        The frames ``ahead`` (the look-ahead of the time median) have no network estimate
        yet; the mixture stands in for their accompaniment.
        """
        assert self._splitter is not None
        count = accompaniment.shape[1]
        guide = np.concatenate(
            [np.abs(accompaniment).mean(axis=0), np.abs(ahead).mean(axis=0)]
        ).astype(np.float32)
        no_repetition = np.zeros((0, 0), np.float32)
        drums, bass = [], []
        for start in range(0, count, SPLIT_FRAMES):  # bounds the frequency median's copy
            size = min(SPLIT_FRAMES, count - start)
            window = guide[start : start + size + self._lookahead]
            shares = self._splitter.shares(window, no_repetition[:size], size)
            drums.append(shares[0])
            bass.append(shares[1])
        drum_part = (accompaniment * np.concatenate(drums)).astype(np.complex64)
        bass_part = (accompaniment * np.concatenate(bass)).astype(np.complex64)
        return {
            "drums": drum_part,
            "bass": bass_part,
            "other": accompaniment - drum_part - bass_part,
        }
