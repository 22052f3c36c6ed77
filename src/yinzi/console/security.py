"""Headers every console response carries, and the visitor's double-submit CSRF cookie."""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yinzi.console.auth import CSRF_COOKIE

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class ConsoleMiddleware:
    """For paths under ``prefix``: security headers, ``Cache-Control: no-store`` on pages, and a
    ``yinzi_csrf`` cookie for visitors who have none (exposed as ``request.state.anonymous_csrf``).
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path == self.prefix or path.startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        token = _cookie(scope, CSRF_COOKIE)
        fresh = not token or len(token) > 100
        if fresh:
            token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["anonymous_csrf"] = token
        static = path.startswith(self.prefix + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                if fresh:
                    cookie = f"{CSRF_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Lax"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _cookie(scope: Scope, name: str) -> str:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header: treated as none
                return ""
            if name in jar:
                return jar[name].value
    return ""
