"""The storage interface: one key space, many backends (local folder now, S3 later)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol


class Storage(Protocol):
    def put_file(self, key: str, src: Path) -> None:
        """Store the file at ``src`` under ``key`` (the source may be moved away)."""
        ...

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int) -> int:
        """Store a stream under ``key``; raises BadRequest past ``max_bytes``. Returns the size."""
        ...

    def open_local(self, key: str, workdir: Path) -> Path:
        """A local path holding the object's bytes (a copy in ``workdir`` where needed)."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; returns how many."""
        ...

    def url(self, key: str, *, ttl_seconds: int) -> str:
        """A link to download ``key`` that expires after ``ttl_seconds``."""
        ...
