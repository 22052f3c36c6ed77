"""The local file server behind signed download links (HTTP Range supported)."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from yinzi.api.deps import ContextDep
from yinzi.errors import NotFound, YinziError
from yinzi.storage import LocalStorage
from yinzi.storage.signing import verify

PREFIX = "/files"
router = APIRouter(tags=["files"])
mimetypes.add_type("audio/flac", ".flac")
mimetypes.add_type("audio/wav", ".wav")
mimetypes.add_type("audio/mpeg", ".mp3")


def render_error(exc: YinziError) -> JSONResponse:
    return JSONResponse({"code": exc.status, "msg": exc.message}, exc.status)


@router.api_route("/files/{key:path}", methods=["GET", "HEAD"])
def download(key: str, ctx: ContextDep, expires: str = "", signature: str = "") -> FileResponse:
    storage = ctx.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("files are served by the object store")
    verify(storage.secret, key, expires, signature)
    path = storage.path(key)
    if not path.is_file():
        raise NotFound("this file no longer exists")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=path.name)
