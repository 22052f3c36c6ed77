"""Installed models: where they live, and whether what is there is exactly what was pinned.

An engine never loads a registry model without ``require``: it checks that every pinned file is
present with its size and SHA-256, so a partial, truncated or tampered install is reported with
the command that mends it instead of being loaded. The digests are computed once per process
for a given file (same size and modification time), so the check costs a read of the weights
when a worker first loads them, and nothing after.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from yinzi.errors import ConfigurationError
from yinzi.models.catalog import MODELS, Model, ModelFile

CHUNK = 1024 * 1024
_digests: dict[tuple[str, int, int], str] = {}


def model(name: str) -> Model:
    """The catalog entry ``name``, or a clear error listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ConfigurationError(f"unknown model {name!r}; known models: {known}") from None


def folder(models_dir: Path, name: str) -> Path:
    return models_dir.expanduser() / name


def sha256(path: Path) -> str:
    """The file's SHA-256, remembered for as long as its size and mtime stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def file_problem(path: Path, pinned: ModelFile) -> str | None:
    """Why ``path`` is not the pinned file, or None when it is."""
    if not path.is_file():
        return f"{pinned.name} is missing"
    size = path.stat().st_size
    if size != pinned.size:
        return f"{pinned.name} has {size} bytes, not {pinned.size}"
    if sha256(path) != pinned.sha256:
        return f"{pinned.name} does not match its pinned SHA-256"
    return None


def problem(spec: Model, where: Path) -> str | None:
    """Why the install of ``spec`` in ``where`` cannot be used, or None when it is complete."""
    if not where.is_dir():
        return "not installed"
    for pinned in spec.files:
        found = file_problem(where / pinned.name, pinned)
        if found is not None:
            return found
    return None


def require(name: str, models_dir: Path) -> Path:
    """The verified folder of the registry model ``name``, or an error that says how to mend it."""
    spec = model(name)
    where = folder(models_dir, name)
    found = problem(spec, where)
    if found == "not installed":
        raise ConfigurationError(
            f"the model {name!r} is not installed in {models_dir}: "
            f"run `yinzi models install {name}`"
        )
    if found is not None:
        raise ConfigurationError(
            f"the model {name!r} in {where} is damaged ({found}): "
            f"run `yinzi models install --force {name}`"
        )
    return where
