"""Reading PyTorch-format checkpoints of numpy arrays without torch, and without trusting them.

A checkpoint is a zip file whose ``<name>/data.pkl`` member is a pickle of a dict from parameter
name to array. Unpickling can call any importable function, so a plain ``pickle.load`` of a file
from elsewhere would run whatever it names. ``load_arrays`` unpickles with a `pickle.Unpickler`
whose ``find_class`` hands out only what rebuilding a numpy array takes: numpy's array
reconstructor, ``ndarray``, ``dtype`` and a latin-1-only ``_codecs.encode`` (how protocol 2
pickles carry bytes). Any other global, and any persistent id (how torch pickles its tensors'
storages), is refused with `CheckpointError` before anything is called. What comes out must be
a dict of names to numeric arrays, which is checked too.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from yinzi.errors import ConfigurationError

Arrays = dict[str, npt.NDArray[Any]]


def _reconstructor() -> Callable[..., Any]:
    """numpy's array reconstructor, wherever this numpy keeps it (``numpy.core`` or ``_core``)."""
    reduced = np.zeros(0).__reduce__()
    assert isinstance(reduced, tuple) and callable(reduced[0])
    found: Callable[..., Any] = reduced[0]
    return found


_RECONSTRUCT = _reconstructor()


def _latin1(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol 2 pickles use it for bytes, and nothing else."""
    if encoding != "latin1" or not isinstance(text, str):
        raise CheckpointError(f"_codecs.encode is only allowed to latin1, not {encoding!r}")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
}
"""Every global a checkpoint may name, and what it gets instead of an import."""


class CheckpointError(ConfigurationError):
    """The checkpoint is not a plain pickle of named numpy arrays."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"refusing to load {module}.{name}: a checkpoint may only hold numpy arrays"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError("refusing a persistent id: torch tensor storages are not supported")


def unpickle_arrays(data: bytes) -> Arrays:
    """The dict of named arrays pickled in ``data``, built by the restricted unpickler."""
    loaded = _ArrayUnpickler(io.BytesIO(data)).load()
    if not isinstance(loaded, dict):
        raise CheckpointError(f"a checkpoint must hold a dict, not {type(loaded).__name__}")
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise CheckpointError(f"checkpoint entry {key!r} is not a named array")
        if value.dtype.kind not in "fiu":
            raise CheckpointError(f"checkpoint array {key!r} has dtype {value.dtype}")
    return loaded


def load_arrays(path: Path) -> Arrays:
    """The named arrays of the checkpoint at ``path`` (a zip holding one ``data.pkl``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(members) != 1:
                raise CheckpointError(f"{path} holds {len(members)} data.pkl members, not 1")
            data = archive.read(members[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}") from exc
    try:
        return unpickle_arrays(data)
    except CheckpointError:
        raise
    except Exception as exc:  # a malformed pickle fails in many ways
        raise CheckpointError(f"{path} is not a readable checkpoint: {exc}") from exc
