"""The file server behind Yinzi's signed download links (HTTP Range supported).

Local storage is served from its folder; S3 storage with presigned links off is streamed from
the bucket after the same signature check (with presigned links on, links point at S3).

Invariants: the signature is checked and the key parsed (:func:`yinzi.storage.keys.parse_key`)
before storage is touched; a ``Range`` header is parsed once, and one longer than
:data:`MAX_RANGE_CHARS` (400) or asking for more than :data:`MAX_RANGES` ranges (416) is refused
without reading it further.

Every answer that is not the file is JSON ``{"code", "msg"}``, a malformed or unsatisfiable
Range included (400, 416 with ``Content-Range: bytes */SIZE``).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from yinzi.api.deps import ContextDep
from yinzi.errors import BadRequest, NotFound, YinziError
from yinzi.storage import LocalStorage, Storage
from yinzi.storage.disposition import attachment
from yinzi.storage.keys import InvalidKey, parse_key
from yinzi.storage.signing import verify

PREFIX = "/files"
MAX_RANGE_CHARS = 200
"""The longest ``Range`` header read (a few ranges of large offsets fit well inside)."""
MAX_RANGES = 8
"""The most byte ranges one request may ask for."""
router = APIRouter(tags=["files"])
mimetypes.add_type("audio/flac", ".flac")
mimetypes.add_type("audio/wav", ".wav")
mimetypes.add_type("audio/mpeg", ".mp3")


class RangeNotSatisfiableError(YinziError):
    """The requested range is outside the file"""

    status = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int, message: str | None = None) -> None:
        super().__init__(message)
        self.headers = {"Content-Range": f"bytes */{size}"}


def render_error(exc: YinziError) -> JSONResponse:
    return JSONResponse({"code": exc.status, "msg": exc.message}, exc.status)


Ranges = list[tuple[int, int]]
"""Byte ranges as ``(start, stop)``, ``stop`` excluded; empty: the whole file."""


def wanted_ranges(request: Request, size: int) -> Ranges:
    """The ranges the request asks for, parsed once; refused (as JSON) when malformed, too
    long, too many or outside the file. With ``If-Range`` the file response decides."""
    wanted = request.headers.get("range")
    if wanted is None:
        return []
    if len(wanted) > MAX_RANGE_CHARS:
        raise BadRequest(f"the Range header is longer than {MAX_RANGE_CHARS} characters")
    if wanted.count(",") >= MAX_RANGES:
        raise RangeNotSatisfiableError(size, f"at most {MAX_RANGES} ranges may be asked for")
    try:
        return FileResponse._parse_range_header(wanted, size)
    except MalformedRangeHeader as exc:
        if "if-range" in request.headers:
            return []
        raise BadRequest(exc.content) from exc
    except RangeNotSatisfiable as exc:
        if "if-range" in request.headers:
            return []
        raise RangeNotSatisfiableError(exc.max_size) from exc


class _RangedFile(FileResponse):
    """A file response that serves the ranges :func:`wanted_ranges` parsed (when ``If-Range``
    allows them) instead of parsing the header again."""

    def __init__(self, path: Path, ranges: Ranges, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.ranges = ranges

    def _parse_range_header(self, http_range: str, file_size: int) -> Ranges:  # type: ignore[override]
        return self.ranges


@router.api_route("/files/{key:path}", methods=["GET", "HEAD"])
def download(
    key: str, request: Request, ctx: ContextDep, expires: str = "", signature: str = ""
) -> Response:
    storage = ctx.storage
    secret: bytes | None = getattr(storage, "secret", None)
    if secret is None or getattr(storage, "presign", False):
        raise NotFound("files are served by the object store")
    verify(secret, key, expires, signature)
    try:
        parse_key(key)
    except InvalidKey as exc:
        raise NotFound("no such file") from exc
    if not isinstance(storage, LocalStorage):
        return _stream(storage, key, request)
    path = storage.path(key)
    if not path.is_file():
        raise NotFound("this file no longer exists")
    ranges = wanted_ranges(request, path.stat().st_size)
    headers = {**_HEADERS, "Content-Disposition": attachment(path.name)}
    return _RangedFile(path, ranges, media_type=_media_type(key), headers=headers)


_HEADERS = {"X-Content-Type-Options": "nosniff"}
"""nosniff, beside an attachment disposition: an uploaded page is downloaded, never rendered"""


def _media_type(key: str) -> str:
    return mimetypes.guess_type(key.rsplit("/", 1)[-1])[0] or "application/octet-stream"


def _stream(storage: Storage, key: str, request: Request) -> Response:
    """The object from the store, whole or one byte range (several ranges: the whole object)."""
    size = storage.size(key)
    ranges = wanted_ranges(request, size)
    name = key.rsplit("/", 1)[-1]
    headers = {
        **_HEADERS,
        "Accept-Ranges": "bytes",
        "Content-Disposition": attachment(name),
    }
    start, end, status = 0, size - 1, 200
    if len(ranges) == 1 and "if-range" not in request.headers:
        start, stop = ranges[0]
        end, status = stop - 1, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    media_type = _media_type(key)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    chunks = storage.open_read(key, start=start, end=end)
    return StreamingResponse(chunks, status, headers=headers, media_type=media_type)
