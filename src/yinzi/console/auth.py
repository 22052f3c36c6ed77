"""Who is signing in, and proof that a form came from our own page.

- ``ViewerDep``: the signed-in session; a visitor without one is sent to the sign-in page.
- ``AdminDep``: the same, for administrators only (others get 404: the page does not exist for
  them).
- Every unsafe request (POST and the like) to the console carries a CSRF token, in the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header: the session's token when signed in, else the
  double-submit token of the ``yinzi_csrf`` cookie. The routers check it as a dependency.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from yinzi.api.deps import ContextDep
from yinzi.errors import Forbidden, NotFound, YinziError
from yinzi.services import console_sessions
from yinzi.services.console_sessions import Viewer

SESSION_COOKIE = "yinzi_session"
CSRF_COOKIE = "yinzi_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(YinziError):
    """Sign in to continue"""

    status = 401
    code = "sign_in_required"


class CsrfRefused(Forbidden):
    """The form has expired. Reload the page and try again."""

    code = "csrf_refused"


def optional_viewer(request: Request, ctx: ContextDep) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    viewer = None
    if token:
        with ctx.db.read() as session:
            viewer = console_sessions.find(session, token)
    request.state.viewer = viewer
    return viewer


OptionalViewerDep = Annotated[Viewer | None, Depends(optional_viewer)]


def current_viewer(viewer: OptionalViewerDep) -> Viewer:
    if viewer is None:
        raise SignInRequired()
    return viewer


def current_admin(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
    if not viewer.is_admin:
        raise NotFound("Page not found")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
AdminDep = Annotated[Viewer, Depends(current_admin)]


async def check_csrf(request: Request, viewer: OptionalViewerDep) -> None:
    """Refuse an unsafe request whose CSRF token is missing or wrong."""
    if request.method in _SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request.headers.get("content-type", "")):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = viewer.csrf_token if viewer else request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        raise CsrfRefused()


def _is_form(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")
