"""The local file server behind signed download links (HTTP Range supported).

Every answer that is not the file is JSON ``{"code", "msg"}``, a malformed or unsatisfiable
Range included (400, 416 with ``Content-Range: bytes */SIZE``).
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from yinzi.api.deps import ContextDep
from yinzi.errors import BadRequest, NotFound, YinziError
from yinzi.storage import LocalStorage
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
) -> FileResponse:
    storage = ctx.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("files are served by the object store")
    verify(storage.secret, key, expires, signature)
    path = storage.path(key)
    if not path.is_file():
        raise NotFound("this file no longer exists")
    _check_range(request, path.stat().st_size)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # attachment (from filename=) and nosniff: an uploaded page is downloaded, never rendered
    headers = {"X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=media_type, filename=path.name, headers=headers)
