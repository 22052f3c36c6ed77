"""The storage interface: one key space, many backends (a local folder, an S3 bucket).

Keys are the strings of :mod:`yinzi.storage.keys`; every backend stores the same key under the
same text, so code above this interface never sees a path or a bucket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from yinzi.errors import YinziError


class StorageUnavailable(YinziError):
    """The file store cannot be reached; try again later"""

    status = 503
    code = "storage_unavailable"


class Storage(Protocol):
    def put_file(self, key: str, src: Path) -> None:
        """Store the file at ``src`` under ``key`` (the source may be moved away)."""
        ...

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int) -> int:
        """Store a stream under ``key``; raises PayloadTooLarge past ``max_bytes`` and then
        leaves nothing behind. Returns the size."""
        ...

    def open_local(self, key: str, workdir: Path) -> Path:
        """A local path holding the object's bytes (a copy in ``workdir`` where needed)."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """The object's size in bytes; raises NotFound when there is none."""
        ...

    def open_read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The object's bytes from ``start`` to ``end`` (inclusive; None: the last), in chunks.

        Raises NotFound before the first chunk when there is no such object."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete ``prefix`` itself and every object under ``prefix/``; returns how many.

        A prefix is whole segments: ``results/12`` never touches ``results/123/...``."""
        ...

    def url(self, key: str, *, ttl_seconds: int) -> str:
        """A link to download ``key`` that expires after ``ttl_seconds``."""
        ...
