"""Where a Whisper model comes from and where it runs, for ``transcription.faster_whisper``.

A model is either a local CTranslate2 folder or a name (``small``, ``large-v3``, a Hugging Face
repository id) that faster-whisper resolves through the Hugging Face cache, downloading it when
allowed. Every way this can fail becomes a ``ConfigurationError`` that tells the user how to get
the weights; nothing here touches the network when ``local_files_only`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from yinzi.errors import ConfigurationError

MULTILINGUAL_VOCABULARY = 51865
"""Whisper's multilingual vocabularies have at least this many tokens; English-only 51,864."""


@dataclass(frozen=True)
class Placement:
    """Where and how CTranslate2 runs the model."""

    device: str
    """``cpu`` or ``cuda``."""
    index: int
    """The GPU number (0 on CPU)."""
    compute_type: str
    """CTranslate2's compute type, e.g. ``int8`` or ``float16``."""


def resolve_placement(device: str, compute_type: str) -> Placement:
    """``auto`` device: CUDA when CTranslate2 sees a GPU; ``auto`` type: int8 CPU, float16 GPU."""
    kind, _, number = device.partition(":")
    if kind == "auto":
        import ctranslate2

        kind = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if kind not in ("cpu", "cuda") or (number and not number.isdigit()):
        raise ConfigurationError(
            f"unknown Whisper device {device!r}: use auto, cpu, cuda or cuda:N"
        )
    if compute_type == "auto":
        compute_type = "float16" if kind == "cuda" else "int8"
    return Placement(kind, int(number or 0), compute_type)


def is_local(model: str) -> bool:
    """True when ``model`` names a folder rather than a model name or repository id."""
    return (
        os.path.isdir(model)
        or model.startswith(("/", "./", "../", "~", "\\"))
        or (
            len(model) > 1 and model[1] == ":"  # a Windows drive
        )
    )


def english_only(model: str) -> bool:
    """Whether ``model`` transcribes only English, judged without loading it."""
    if installed_name(model) is not None and not os.path.isdir(model):
        return model.endswith(".en")
    if os.path.isdir(model):
        size = vocabulary_size(Path(model))
        if size is not None:
            return size < MULTILINGUAL_VOCABULARY
    return model.rstrip("/").endswith(".en")


def vocabulary_size(folder: Path) -> int | None:
    """The number of tokens in a converted model's vocabulary, if the folder has one."""
    as_json, as_text = folder / "vocabulary.json", folder / "vocabulary.txt"
    if as_json.is_file():
        tokens = json.loads(as_json.read_text(encoding="utf-8"))
        return len(tokens) if isinstance(tokens, list) else None
    if as_text.is_file():
        with as_text.open(encoding="utf-8") as lines:
            return sum(1 for _ in lines)
    return None


def installed_name(model: str) -> str | None:
    """The catalog name of ``model`` when the catalog knows it (``base`` is ``whisper-base``)."""
    from yinzi.models import MODELS

    for name in (model, f"whisper-{model}"):
        spec = MODELS.get(name)
        if spec is not None and spec.engine == "transcription.faster_whisper":
            return name
    return None


def locate(
    model: str,
    *,
    download_root: str | None,
    local_files_only: bool,
    models_dir: str | None = None,
) -> str:
    """The folder holding ``model``: itself when local; the verified install of a registry
    model (``base`` is ``whisper-base``) or a hub model installed in the models folder; else
    from (or into) the Hugging Face cache."""
    name = installed_name(model) if models_dir is not None else None
    if name is not None and models_dir is not None:
        from yinzi.models import MODELS, require

        if MODELS[name].files:
            return str(require(name, Path(models_dir)))
        hub_install = Path(models_dir).expanduser() / name
        if (hub_install / "model.bin").is_file():
            return str(hub_install)
        model = MODELS[name].hub or model
    if is_local(model):
        folder = os.path.expanduser(model)
        if not os.path.isdir(folder):
            raise ConfigurationError(f"the Whisper model folder {folder} does not exist")
        return folder
    from faster_whisper.utils import available_models, download_model

    try:
        return str(
            download_model(model, local_files_only=local_files_only, cache_dir=download_root)
        )
    except ValueError as exc:
        known = ", ".join(available_models())
        raise ConfigurationError(
            f"unknown Whisper model {model!r}: use one of {known}, a Hugging Face repository id "
            "of a CTranslate2 conversion, or a local model folder"
        ) from exc
    except OSError as exc:  # not in the cache offline, or the download failed
        how = "it is not in the local cache" if local_files_only else f"it cannot be fetched: {exc}"
        raise ConfigurationError(
            f"the Whisper model {model!r} is not available here ({how}). Download it once with "
            f"`yinzi models install whisper-{model}` (needs internet), or set "
            "YINZI_WHISPER__MODEL to a local CTranslate2 model folder; see docs/whisper.md"
        ) from exc


def download(model: str, dest: Path | None, download_root: str | None) -> Path:
    """Download ``model`` into the HF cache (``dest`` None) or as plain files into ``dest``."""
    from faster_whisper.utils import available_models, download_model

    try:
        if dest is None:
            return Path(download_model(model, cache_dir=download_root))
        dest.mkdir(parents=True, exist_ok=True)
        # A private cache beside dest, then its files moved in: download_model's own
        # ``output_dir`` passes an argument that current huggingface_hub versions refuse.
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".whisper-") as cache:
            snapshot = Path(download_model(model, cache_dir=cache))
            for entry in snapshot.iterdir():
                shutil.move(str(entry.resolve()), str(dest / entry.name))
        return dest
    except ValueError as exc:
        known = ", ".join(available_models())
        raise ConfigurationError(f"unknown Whisper model {model!r}; known: {known}") from exc
    except OSError as exc:
        raise ConfigurationError(f"could not download the Whisper model {model!r}: {exc}") from exc
