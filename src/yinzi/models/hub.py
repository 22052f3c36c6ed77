"""Hub models: Whisper sizes and Demucs models, fetched by their own libraries (needs internet).

Whisper models are written as plain files into ``<models dir>/whisper-<size>/``, where the
engine looks first; Demucs models stay in Demucs's own download cache, where its engine finds
them. Neither is verified file by file: the hub publishes no digests to pin ahead of time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from yinzi.errors import ConfigurationError
from yinzi.models.catalog import Model
from yinzi.models.install import Installed

WHISPER = "transcription.faster_whisper"


def installed(spec: Model, models_dir: Path) -> Path | bool:
    """The folder of an installed hub model, True when its library's cache has it, else False."""
    if spec.engine == WHISPER:
        folder = models_dir.expanduser() / spec.name
        return folder if (folder / "model.bin").is_file() else False
    try:
        from yinzi.engines.separation import _demucs_models

        return _demucs_models.missing(spec.name, None) is None
    except ImportError:
        return False


def install(spec: Model, models_dir: Path, *, force: bool) -> Installed:
    found = installed(spec, models_dir)
    if found and not force:
        return Installed(spec.name, found if isinstance(found, Path) else None, "already installed")
    if spec.engine == WHISPER:
        return Installed(spec.name, _whisper(spec, models_dir), "installed")
    try:
        from demucs.pretrained import get_model
    except ImportError as exc:
        raise ConfigurationError(f"{spec.name} needs Demucs: pip install 'yinzi[demucs]'") from exc
    try:
        get_model(spec.hub or spec.name)
    except Exception as exc:  # demucs raises plain exceptions for network and hub failures
        raise ConfigurationError(
            f"could not download {spec.name} from the hub ({exc}); see docs/demucs.md for "
            "installing its files by hand"
        ) from exc
    return Installed(spec.name, None, "installed")


def _whisper(spec: Model, models_dir: Path) -> Path:
    from yinzi.engines.transcription._whisper_models import download

    models_dir = models_dir.expanduser()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.name
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".{spec.name}-") as scratch:
        staging = Path(scratch) / "model"
        download(spec.hub or spec.name, staging, None)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target
