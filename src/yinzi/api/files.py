"""The file server behind Yinzi's signed download links (HTTP Range supported).

Local storage is served from its folder; S3 storage with presigned links off is streamed from
the bucket after the same signature check (with presigned links on, links point at S3).

Every answer that is not the file is JSON ``{"code", "msg"}``, a malformed or unsatisfiable
Range included (400, 416 with ``Content-Range: bytes */SIZE``).
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from yinzi.api.deps import ContextDep
from yinzi.errors import BadRequest, NotFound, YinziError
from yinzi.storage import LocalStorage, Storage
from yinzi.storage.signing import verify

PREFIX = "/files"
router = APIRouter(tags=["files"])
mimetypes.add_type("audio/flac", ".flac")
mimetypes.add_type("audio/wav", ".wav")
mimetypes.add_type("audio/mpeg", ".mp3")


class RangeNotSatisfiableError(YinziError):
    """The requested range is outside the file"""

    status = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__()
        self.headers = {"Content-Range": f"bytes */{size}"}


def render_error(exc: YinziError) -> JSONResponse:
    return JSONResponse({"code": exc.status, "msg": exc.message}, exc.status)


def _check_range(request: Request, size: int) -> None:
    """Refuse a Range the file response would refuse, so the refusal is JSON like the rest."""
    wanted = request.headers.get("range")
    if wanted is None or "if-range" in request.headers:
        return
    try:
        FileResponse._parse_range_header(wanted, size)
    except MalformedRangeHeader as exc:
        raise BadRequest(exc.content) from exc
    except RangeNotSatisfiable as exc:
        raise RangeNotSatisfiableError(exc.max_size) from exc


@router.api_route("/files/{key:path}", methods=["GET", "HEAD"])
def download(
    key: str, request: Request, ctx: ContextDep, expires: str = "", signature: str = ""
) -> Response:
    storage = ctx.storage
    if isinstance(storage, LocalStorage):
        verify(storage.secret, key, expires, signature)
        path = storage.path(key)
        if not path.is_file():
            raise NotFound("this file no longer exists")
        _check_range(request, path.stat().st_size)
        return FileResponse(path, media_type=_media_type(key), filename=path.name, headers=_HEADERS)
    secret: bytes | None = getattr(storage, "secret", None)
    if secret is None or getattr(storage, "presign", False):
        raise NotFound("files are served by the object store")
    verify(secret, key, expires, signature)
    return _stream(storage, key, request)


_HEADERS = {"X-Content-Type-Options": "nosniff"}
"""attachment (from the file name) and nosniff: an uploaded page is downloaded, never rendered"""


def _media_type(key: str) -> str:
    return mimetypes.guess_type(key.rsplit("/", 1)[-1])[0] or "application/octet-stream"


def _stream(storage: Storage, key: str, request: Request) -> Response:
    """The object from the store, whole or one byte range (several ranges: the whole object)."""
    size = storage.size(key)
    _check_range(request, size)
    name = key.rsplit("/", 1)[-1]
    headers = {
        **_HEADERS,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}",
    }
    start, end, status = 0, size - 1, 200
    wanted = request.headers.get("range")
    if wanted is not None and "if-range" not in request.headers:
        ranges = FileResponse._parse_range_header(wanted, size)
        if len(ranges) == 1:
            start, stop = ranges[0]
            end, status = stop - 1, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    media_type = _media_type(key)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    chunks = storage.open_read(key, start=start, end=end)
    return StreamingResponse(chunks, status, headers=headers, media_type=media_type)
