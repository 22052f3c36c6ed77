"""Why an engine cannot run with given options, answered without importing the engine.

Each function takes the engine's options (``Settings.engine_options``; unknown ones are ignored)
and returns None when the engine can run, else the reason and how to fix it. They look at the
disk only (installed models, download caches), so ``yinzi engines`` and the start-up check of
``yinzi serve`` stay fast; the engine classes' ``availability`` classmethods call them.
"""

from __future__ import annotations

import os
from pathlib import Path

from yinzi.errors import ConfigurationError

SPLEETER_MODEL = "spleeter-2stems"


def spleeter(*, models_dir: str | Path, **_: object) -> str | None:
    """Why the Spleeter weights cannot be used from ``models_dir``, or None when installed."""
    from yinzi import models

    try:
        models.require(SPLEETER_MODEL, Path(models_dir))
    except ConfigurationError as exc:
        return exc.message
    return None


def faster_whisper(
    *,
    model: str = "base",
    download_root: str | None = None,
    models_dir: str | None = None,
    **_: object,
) -> str | None:
    """Why the Whisper ``model`` cannot be used here without a download, or None when on disk."""
    from yinzi.engines.transcription._whisper_models import locate

    try:
        locate(model, download_root=download_root, local_files_only=True, models_dir=models_dir)
    except ConfigurationError as exc:
        return exc.message
    return None


def demucs(*, model: str = "htdemucs", repo: str | Path | None = None, **_: object) -> str | None:
    """Why the Demucs ``model`` cannot be used here without a download, or None when on disk
    (Demucs's own repositories answer this, so it imports torch)."""
    from yinzi.engines.separation import _demucs_models

    return _demucs_models.missing(model, repo)


def musicgen(*, model: str = "facebook/musicgen-small", **_: object) -> str | None:
    """Why the MusicGen ``model`` cannot be used here without a download, or None when on disk."""
    if is_local_folder(model):
        return missing_musicgen_folder(model)
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(model, "config.json"), str):
        return f"the MusicGen model {model!r} is not in the local Hugging Face cache"
    return None


def is_local_folder(model: str) -> bool:
    """True when ``model`` names a folder rather than a Hugging Face repository id."""
    return os.path.isdir(model) or model.startswith(("/", "./", "../", "~", "\\"))


def missing_musicgen_folder(model: str) -> str | None:
    folder = os.path.expanduser(model)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        return f"the MusicGen model folder {folder} does not exist or has no config.json"
    return None
