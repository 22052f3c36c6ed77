"""Size limits on everything a request carries, enforced before any of it is stored.

- Bodies: every route takes at most ``max_body_bytes`` (64 KiB by default), the upload route
  ``max_upload_bytes`` plus room for the multipart framing. A declared ``Content-Length`` over
  the limit is refused before a byte is read; a body that streams past it is cut off there.
  Either way the client gets 413 in its dialect's envelope (see :class:`BodyTooLarge`).
- Strings: each field has a maximum length below, checked when the request is parsed, so no
  oversized value reaches a service or the database. docs/api.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_URL = 2048
"""A URL (input audio, callback)."""
MAX_SHARE_TEXT = 4096
"""A short-video share text (a title, a link and an app's noise)."""
MAX_IDEMPOTENCY_KEY = 200
MAX_API_KEY = 200
MAX_ID = 64
"""An order number, task id, audio id or uid."""
MAX_WORD = 32
"""An order type, format, language or status."""
MULTIPART_SLACK = 64 * 1024
"""Room for multipart boundaries and part headers around an uploaded file."""


class BodyTooLarge(HTTPException):
    """Raised while a body is read; FastAPI lets HTTP exceptions through to the error renderer."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: the body of a request to ``path`` may hold at most its limit in bytes.

    A declared length over the limit is answered by ``refuse`` (the dialect's 413) without
    calling the app at all: no credential check, no byte of the body read.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        per_path: Mapping[str, int],
        refuse: Callable[[Request, HTTPException], Response],
    ) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path)
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self.refuse(Request(scope), BodyTooLarge(limit))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
