"""A tiny, randomly initialised Demucs model for tests, built offline.

``build_tiny_demucs`` constructs a real ``demucs.htdemucs.HTDemucs`` (8 channels, 3 layers, a
1024-point spectrogram, one transformer layer, 1 s segments: about 80k parameters, a few tenths
of a second per second of audio on one CPU core) and saves it the way Demucs's published models
are saved, so ``DemucsSeparator(model=..., repo=dest)`` goes through the real loading path:

- ``<sig>-<sha8>.th``: a ``torch.save``d dict ``{klass, args, kwargs, state}`` written by
  ``demucs.states.save_with_checksum`` (the suffix is the first 8 hex digits of its sha256,
  checked on load by ``demucs.repo.LocalRepo``);
- with ``bag``, also ``<bag>.yaml`` listing ``models: [<sig>]``, as ``htdemucs.yaml`` does.

Its output is noise-like (the weights are random); it exercises shapes, streaming and loading,
not separation quality. Needs ``torch`` and ``demucs``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from yinzi.engines.separation._demucs_models import FOUR_STEMS

__all__ = ["TINY_SIGNATURE", "build_tiny_demucs"]

TINY_SIGNATURE = "tiny0000"
"""Signature (file-name stem) of the saved model; pass it as ``model=``."""


def build_tiny_demucs(
    dest: Path,
    *,
    sources: Sequence[str] = FOUR_STEMS,
    signature: str = TINY_SIGNATURE,
    bag: str | None = None,
    seed: int = 0,
) -> Path:
    """Save a tiny random HTDemucs separating ``sources`` into ``dest``; return the model file."""
    import torch
    from demucs.htdemucs import HTDemucs

    states: Any = importlib.import_module("demucs.states")  # its helpers are untyped

    if "-" in signature:
        raise ValueError("a Demucs signature cannot contain '-'")
    dest.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = HTDemucs(
        list(sources),
        channels=8,
        depth=3,
        nfft=1024,
        dconv_depth=1,
        dconv_comp=2,
        norm_starts=10,
        t_layers=1,
        t_heads=2,
        t_hidden_scale=1.0,
        t_cape_augment=False,
        segment=1,
    )
    args, kwargs = model._init_args_kwargs
    package = {
        "klass": HTDemucs,
        "args": args,
        "kwargs": kwargs,
        "state": states.get_state(model, None, half=False),
    }
    states.save_with_checksum(package, dest / f"{signature}.th")
    if bag is not None:
        (dest / f"{bag}.yaml").write_text(f"models: ['{signature}']\n")
    (path,) = dest.glob(f"{signature}-*.th")
    return path
