"""Uploaded files: stored under ``uploads/<random>/<safe name>``, checked to be media with audio,
and recorded as the account's (so only that account may use the key as an order's input).

A file that is empty, not media, or has no audio track is deleted again before the error is
raised: no stored upload exists without its ``Upload`` row.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from yinzi import media
from yinzi.db.models import Account, Upload
from yinzi.errors import BadRequest, MediaError

if TYPE_CHECKING:
    from yinzi.context import Context

MAX_NAME_BYTES = 120
"""Stored file names are cut to this many UTF-8 bytes, keeping the extension."""


def store(
    ctx: Context,
    account: Account,
    stream: BinaryIO,
    filename: str | None,
    content_type: str | None = None,
) -> str:
    """Store the file and check it is media with audio (call it in a worker thread: the check
    decodes); returns its key, usable as an order's ``pathKey``."""
    name = safe_name(filename or "upload")
    key = f"uploads/{secrets.token_urlsafe(18)}/{name}"
    size = ctx.storage.put_stream(key, stream, max_bytes=ctx.settings.max_upload_bytes)
    try:
        if size == 0:
            raise BadRequest("the uploaded file is empty")
        _check_media(ctx, key)
    except Exception:
        ctx.storage.delete_prefix(key)
        raise
    with ctx.db.write() as session:
        session.add(
            Upload(
                key=key,
                account_id=account.id,
                filename=name,
                size=size,
                content_type=content_type,
            )
        )
    return key


def _check_media(ctx: Context, key: str) -> None:
    scratch = ctx.settings.data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        try:
            media.check_audio(ctx.storage.open_local(key, Path(work)))
        except MediaError as exc:
            raise BadRequest(f"file: {exc.message}; upload an audio or video file") from exc


def safe_name(filename: str) -> str:
    """A file name fit for a storage key: letters, digits, ``._-``; at most
    :data:`MAX_NAME_BYTES` bytes of UTF-8, cut before the extension, never mid-character."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in base).strip("._")
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not stem or len(ext) > 10:
        stem, ext = cleaned, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip("._")
    return f"{stem}{suffix}" if stem else "upload"


def duration(ctx: Context, key: str) -> float | None:
    """The stored upload's duration in seconds, as the worker will measure it (None when the
    file cannot be probed; its order would then fail with the reason)."""
    scratch = ctx.settings.data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        try:
            return media.probe(ctx.storage.open_local(key, Path(work))).duration
        except MediaError:
            return None
