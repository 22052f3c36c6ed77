"""``create_app(settings)`` builds the whole HTTP application; nothing happens at import time.

Errors are rendered in one place: each dialect registers the path prefix it owns and a renderer
for :class:`yinzi.errors.YinziError`; anything else becomes a 500 in that dialect's envelope,
with the traceback logged and never sent to the client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from yinzi import __version__
from yinzi.api import deps, files, open_v1, openapi, text_to_music, vocal_removal
from yinzi.context import Context
from yinzi.errors import BadRequest, YinziError
from yinzi.queue.base import Dispatcher
from yinzi.queue.embedded import EmbeddedDispatcher
from yinzi.settings import Settings

log = logging.getLogger(__name__)
Renderer = Callable[[YinziError], Response]

DIALECTS: list[tuple[str, Renderer]] = [
    (open_v1.PREFIX, open_v1.render_error),
    (files.PREFIX, files.render_error),
    (vocal_removal.PREFIX, vocal_removal.render_error),
    (text_to_music.PREFIX, text_to_music.render_error),
]


def _renderer(path: str) -> Renderer:
    for prefix, renderer in DIALECTS:
        if path.startswith(prefix):
            return renderer
    return open_v1.render_error


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "Request parameter error"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
    if first.get("type") in ("json_invalid", "model_attributes_type", "dict_type"):
        return "the request body must be a JSON object"
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


def _install_error_handlers(app: FastAPI) -> None:
    async def on_yinzi_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, YinziError)
        response = _renderer(request.url.path)(exc)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _renderer(request.url.path)(BadRequest(_validation_message(exc)))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error = YinziError(str(exc.detail))
        error.status = exc.status_code
        return _renderer(request.url.path)(error)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _renderer(request.url.path)(YinziError())

    app.add_exception_handler(YinziError, on_yinzi_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def create_app(
    settings: Settings, *, ctx: Context | None = None, dispatcher: Dispatcher | None = None
) -> FastAPI:
    context = ctx or Context.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if ctx is None:
            context.close()

    app = FastAPI(
        title="Yinzi",
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(deps.text_is_storable)],
    )
    app.state.ctx = context
    app.state.dispatcher = dispatcher or EmbeddedDispatcher()
    _install_error_handlers(app)
    app.include_router(open_v1.router)
    app.include_router(vocal_removal.router)
    app.include_router(text_to_music.router)
    app.include_router(files.router)
    openapi.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app
