"""Console errors as pages: a visitor who must sign in is sent to the sign-in page; anything else
is a page in the visitor's language, with the error's own status."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from yinzi.console import render
from yinzi.console.auth import SignInRequired
from yinzi.errors import YinziError


def render_error(request: Request, exc: YinziError) -> Response:
    if isinstance(exc, SignInRequired) and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/console/sign-in?next={quote(target)}", status_code=303)
    return render.page(request, "error.html", {"error": exc}, status=exc.status)
