"""Local-folder storage: objects are files under ``root``; links point at this server."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from yinzi.errors import NotFound, PayloadTooLarge
from yinzi.storage.keys import is_prefix_of_keys
from yinzi.storage.signing import RecentLinks, signed_link

CHUNK = 1024 * 1024


class LocalStorage:
    def __init__(self, root: Path, *, base_url: str, secret: bytes) -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.root.mkdir(parents=True, exist_ok=True)
        self._links = RecentLinks()

    def path(self, key: str) -> Path:
        """The file for ``key``; refuses any key with a segment that is not a plain name."""
        if not is_prefix_of_keys(key):
            raise NotFound("no such file")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise NotFound("no such file")
        return path

    def put_file(self, key: str, src: Path) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dest)

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int) -> int:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        size = 0
        try:
            with part.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"the file is larger than the limit of {max_bytes} bytes"
                        )
                    out.write(chunk)
            part.rename(dest)
        finally:
            part.unlink(missing_ok=True)
        return size

    def open_local(self, key: str, workdir: Path) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise NotFound("the uploaded file no longer exists")
        return path

    def check(self) -> None:
        """Raise unless the root folder takes a new file (written, read back and removed)."""
        probe = self.root / f".healthz-{os.getpid()}-{threading.get_ident()}"
        try:
            probe.write_bytes(b"ok")
            if probe.read_bytes() != b"ok":
                raise OSError(f"{self.root} did not return what was written")
        finally:
            probe.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        path = self.path(key)
        if not path.is_file():
            raise NotFound("this file no longer exists")
        return path.stat().st_size

    def open_read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path(key)
        if not path.is_file():
            raise NotFound("this file no longer exists")
        return _read_range(path, start, end)

    def delete_prefix(self, prefix: str) -> int:
        target = self.path(prefix.rstrip("/"))
        if target.is_dir():
            count = sum(1 for p in target.rglob("*") if p.is_file())
            shutil.rmtree(target, ignore_errors=True)
            return count
        if target.is_file():
            target.unlink()
            return 1
        return 0

    def url(self, key: str, *, ttl_seconds: int) -> str:
        return self._links.get(
            key, ttl_seconds, lambda: signed_link(self.base_url, self.secret, key, ttl_seconds)
        )


def _read_range(path: Path, start: int, end: int | None) -> Iterator[bytes]:
    with path.open("rb") as src:
        src.seek(start)
        left = None if end is None else end - start + 1
        while left is None or left > 0:
            chunk = src.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
