"""Finding and loading Demucs models through the library's own repositories.

Three places, tried in order, the first two without any network:

1. ``repo``, a folder in Demucs's local-repository format: ``<sig>-<sha8>.th`` model files
   (or ``<sig>.th``) and ``<name>.yaml`` bags listing signatures (``models: ['955717e8']``);
2. the caches of earlier downloads: the Hugging Face cache (``<name>.yaml`` and
   ``<sig>.safetensors`` in ``adefossez/HTDemucs...``), then the torch hub cache
   (``$TORCH_HOME/hub/checkpoints/<sig>-<sha8>.th``, where older Demucs versions put them);
3. ``demucs.pretrained.get_model(name)``, which downloads (Hugging Face hub, then
   dl.fbaipublicfiles.com).

With a ``repo`` only the first is used. ``torch`` and ``demucs`` are imported inside the
functions, so this module imports without them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from yinzi.errors import ConfigurationError

FOUR_STEMS = ("drums", "bass", "other", "vocals")
SIX_STEMS = (*FOUR_STEMS, "guitar", "piano")
KNOWN_SOURCES: dict[str, tuple[str, ...]] = {
    "htdemucs": FOUR_STEMS,
    "htdemucs_ft": FOUR_STEMS,
    "htdemucs_6s": SIX_STEMS,
    "hdemucs_mmi": FOUR_STEMS,
    "mdx": FOUR_STEMS,
    "mdx_extra": FOUR_STEMS,
    "mdx_q": FOUR_STEMS,
    "mdx_extra_q": FOUR_STEMS,
}
"""Sources of the published models, known without loading them."""

HF_NAMESPACE = "adefossez"
"""The Hugging Face user whose repositories hold Demucs's published models."""

HOW_TO_GET = (
    "download the model files on a machine with internet (see docs/demucs.md: the bag "
    "'<name>.yaml' and its '<sig>-<sha8>.th' files) into a folder and set YINZI_DEMUCS__REPO "
    "to it, or allow the first run to download them"
)


def load(name: str, repo: str | Path | None) -> Any:
    """The model or bag of models ``name``, in eval mode; ConfigurationError when unavailable."""
    if repo is not None:
        return _load_local(name, _folder(repo))
    cached = _load_cached(name)
    if cached is not None:
        return cached
    from demucs.pretrained import get_model

    try:
        model = get_model(name)
    except Exception as exc:  # network, hub and format errors all mean "cannot get it"
        raise ConfigurationError(
            f"Demucs model {name!r} is not on disk and could not be downloaded ({exc}); "
            + HOW_TO_GET
        ) from exc
    model.eval()
    return model


def missing(name: str, repo: str | Path | None) -> str | None:
    """Why ``name`` cannot be loaded without a download, or None when it is on disk."""
    if repo is not None:
        try:
            _local_repo(_folder(repo), name)
        except ConfigurationError as exc:
            return exc.message
        return None
    if _hf_files(name) is not None or _in_torch_hub_cache(name):
        return None
    return f"Demucs model {name!r} is not downloaded yet; " + HOW_TO_GET


def _folder(repo: str | Path) -> Path:
    path = Path(repo).expanduser()
    if not path.is_dir():
        raise ConfigurationError(f"Demucs model folder {str(path)!r} does not exist; {HOW_TO_GET}")
    return path


def _local_repo(path: Path, name: str) -> Any:
    from demucs.repo import AnyModelRepo, BagOnlyRepo, LocalRepo, ModelLoadingError

    try:
        model_repo = LocalRepo(path)
        repo = AnyModelRepo(model_repo, BagOnlyRepo(path, model_repo))
    except ModelLoadingError as exc:
        raise ConfigurationError(f"Demucs model folder {str(path)!r}: {exc}") from exc
    if not repo.has_model(name):
        known = ", ".join(sorted(repo.list_model())) or "none"
        raise ConfigurationError(
            f"Demucs model {name!r} is not in {str(path)!r} (it has: {known}); {HOW_TO_GET}"
        )
    return repo


def _load_local(name: str, path: Path) -> Any:
    from demucs.repo import ModelLoadingError

    repo = _local_repo(path, name)
    try:
        model = repo.get_model(name)
    except ModelLoadingError as exc:  # a bag naming a missing file, a bad checksum
        raise ConfigurationError(f"Demucs model {name!r} in {str(path)!r}: {exc}") from exc
    except ImportError as exc:  # quantized models need diffq
        raise ConfigurationError(
            f"Demucs model {name!r} needs a package that is not installed ({exc}); "
            "quantized models (*_q) need 'pip install diffq'"
        ) from exc
    model.eval()
    return model


def _load_cached(name: str) -> Any | None:
    """Load ``name`` from a download cache without touching the network, if it is there."""
    files = _hf_files(name)
    if files is not None:
        from demucs.apply import BagOfModels
        from demucs.hf import load_safetensors_model

        bag, paths = files
        models = [load_safetensors_model(path) for path in paths]
        model = BagOfModels(models, bag.get("weights"), bag.get("segment"))
    else:
        repo = _torch_hub_repo(name)
        if repo is None:
            return None
        model = repo.get_model(name)
    model.eval()
    return model


def _hf_files(name: str) -> tuple[dict[str, Any], list[str]] | None:
    """The bag and its cached safetensors files in the Hugging Face cache, if all are there."""
    if importlib.util.find_spec("demucs") is None:
        return None
    try:
        import yaml
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    repo_id = f"{HF_NAMESPACE}/{_hf_repo_name(name)}"
    bag_file = try_to_load_from_cache(repo_id, f"{name}.yaml")
    if not isinstance(bag_file, str):
        return None
    bag: dict[str, Any] = yaml.safe_load(Path(bag_file).read_text())
    paths = [try_to_load_from_cache(repo_id, f"{sig}.safetensors") for sig in bag["models"]]
    if not all(isinstance(path, str) for path in paths):
        return None
    return bag, [str(path) for path in paths]


def _hf_repo_name(name: str) -> str:
    """Demucs's Hugging Face repository for ``name`` (``demucs.hf.hf_repo_name``, which cannot
    be imported without torch): ``htdemucs_ft`` -> ``HTDemucs-ft``, ``mdx`` -> ``Demucs-mdx``."""
    if name == "htdemucs":
        return "HTDemucs"
    if name.startswith("htdemucs_"):
        return "HTDemucs-" + name.removeprefix("htdemucs_")
    return "Demucs-" + name


def _in_torch_hub_cache(name: str) -> bool:
    """Whether every file of ``name`` is in the torch hub cache, found without importing torch
    or Demucs: their remote file list and bags ship as data files in the Demucs package."""
    import yaml

    package = importlib.util.find_spec("demucs")
    if package is None or not package.submodule_search_locations:
        raise ImportError("demucs is not installed")
    remote = Path(next(iter(package.submodule_search_locations))) / "remote"
    files = {}
    for line in (remote / "files.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "root:")):
            files[line.split("-", 1)[0]] = line.rsplit("/", 1)[-1]
    if name in files:
        signatures = [name]
    elif (remote / f"{name}.yaml").is_file():
        signatures = yaml.safe_load((remote / f"{name}.yaml").read_text())["models"]
    else:
        return False
    checkpoints = _torch_hub_dir() / "checkpoints"
    return all(sig in files and (checkpoints / files[sig]).is_file() for sig in signatures)


def _torch_hub_dir() -> Path:
    """``torch.hub.get_dir()``: asked of torch when it is loaded already (it may have been
    moved with ``set_dir``), else worked out as torch does, from TORCH_HOME or the cache folder."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return Path(torch.hub.get_dir())
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))
    return Path(os.path.expanduser(home)) / "hub"


def _torch_hub_repo(name: str) -> Any | None:
    """Demucs's remote repository, if every file of ``name`` is already in the torch hub cache
    (then ``get_model`` reads the cache and does not download)."""
    import torch
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files
    from demucs.repo import AnyModelRepo, BagOnlyRepo, RemoteRepo

    urls: dict[str, str] = _parse_remote_files(REMOTE_ROOT / "files.txt")
    model_repo = RemoteRepo(urls)
    repo = AnyModelRepo(model_repo, BagOnlyRepo(REMOTE_ROOT, model_repo))
    if name in urls:
        signatures = [name]
    elif repo.bag_repo.has_model(name):
        import yaml

        signatures = yaml.safe_load((REMOTE_ROOT / f"{name}.yaml").read_text())["models"]
    else:
        return None
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    if all((checkpoints / urls[sig].rsplit("/", 1)[1]).is_file() for sig in signatures):
        return repo
    return None
