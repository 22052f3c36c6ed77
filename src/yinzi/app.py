"""``create_app(settings)`` builds the whole HTTP application; nothing happens at import time.

Errors are rendered in one place: each dialect registers the path prefix it owns, a renderer
for :class:`yinzi.errors.YinziError` and how to tell whether a request carries its credentials.
Routing errors (404, 405) and oversized bodies (413) keep their status in every envelope; a
malformed request without credentials answers 401; anything else becomes a 500 in the dialect's
envelope, with the traceback logged and never sent to the client, and the connection kept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yinzi import __version__, console
from yinzi.api import deps, files, open_v1, openapi, ops, text_to_music, vocal_removal
from yinzi.api.limits import MULTIPART_SLACK, BodyLimit
from yinzi.context import Context
from yinzi.dialects import register_callbacks
from yinzi.errors import (
    BadRequest,
    MethodNotAllowed,
    MissingApiKey,
    PayloadTooLarge,
    RouteNotFound,
    YinziError,
)
from yinzi.queue import build_dispatcher
from yinzi.queue.base import Dispatcher
from yinzi.services.ratelimit import ConcurrencyGate
from yinzi.settings import Settings

log = logging.getLogger(__name__)
Renderer = Callable[[Request, YinziError], Response]


@dataclass(frozen=True)
class Dialect:
    prefix: str
    render: Renderer
    has_credentials: Callable[[Request], bool]


def _no_key_needed(_request: Request) -> bool:
    return True


def _envelope(render: Callable[[YinziError], Response]) -> Renderer:
    """A JSON dialect's renderer, which needs only the error."""
    return lambda _request, exc: render(exc)


DIALECTS = (
    Dialect(open_v1.PREFIX, _envelope(open_v1.render_error), open_v1.has_credentials),
    Dialect(files.PREFIX, _envelope(files.render_error), _no_key_needed),
    Dialect(
        vocal_removal.PREFIX, _envelope(vocal_removal.render_error), vocal_removal.has_credentials
    ),
    Dialect(
        vocal_removal.CHAT_PREFIX,
        _envelope(vocal_removal.render_error),
        vocal_removal.has_credentials,
    ),
    Dialect(
        text_to_music.PREFIX, _envelope(text_to_music.render_error), text_to_music.has_credentials
    ),
    Dialect(console.PREFIX, console.render_error, _no_key_needed),
)
_HTTP_ERRORS: dict[int, type[YinziError]] = {
    404: RouteNotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def _dialect(path: str) -> Dialect:
    for dialect in DIALECTS:
        if path == dialect.prefix or path.startswith(dialect.prefix + "/"):
            return dialect
    return DIALECTS[0]


def _render(request: Request, exc: YinziError) -> Response:
    return _dialect(request.url.path).render(request, exc)


def _render_http(request: Request, exc: HTTPException) -> Response:
    cls = _HTTP_ERRORS.get(exc.status_code)
    if cls is None:
        error = YinziError(str(exc.detail))
        error.status = exc.status_code
    else:
        error = cls(str(exc.detail))
    response = _render(request, error)
    response.headers.update(exc.headers or {})
    return response


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
        response = _render(request, exc)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _dialect(request.url.path).has_credentials(request):
            return _render(request, MissingApiKey())
        return _render(request, BadRequest(_validation_message(exc)))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _render_http(request, exc)

    app.add_exception_handler(YinziError, on_yinzi_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)


class CatchAll:
    """Any other exception becomes a 500 in the dialect's envelope, with the traceback logged.

    This sits inside Starlette's ServerErrorMiddleware, which would answer the 500 and then
    re-raise, making the server drop a keep-alive connection its client expects to reuse.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise
            request = Request(scope)
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            await _render(request, YinziError())(scope, receive, send)


def create_app(
    settings: Settings, *, ctx: Context | None = None, dispatcher: Dispatcher | None = None
) -> FastAPI:
    context = ctx or Context.build(settings)
    register_callbacks()

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
    app.state.dispatcher = dispatcher or build_dispatcher(settings, context.db)
    links = settings.links
    app.state.links_gate = ConcurrencyGate(links.max_concurrent, links.max_per_account)
    _install_error_handlers(app)
    app.add_middleware(CatchAll)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        per_path={
            path: settings.max_upload_bytes + MULTIPART_SLACK
            for path in (open_v1.UPLOAD_PATH, *console.UPLOAD_PATHS)
        },
        refuse=_render_http,
    )
    app.include_router(open_v1.router)
    app.include_router(vocal_removal.router)
    app.include_router(vocal_removal.chat_router)
    app.include_router(text_to_music.router)
    app.include_router(files.router)
    openapi.install(app)
    console.install(app)
    ops.install(app, settings, context)
    return app
