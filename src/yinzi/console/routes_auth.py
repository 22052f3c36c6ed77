"""Console pages: sign-in, sign-out, sign-up, password change and set-password links.

The session cookie (``yinzi_session``) holds a random token whose SHA-256 is the session's row;
it is ``HttpOnly``, ``SameSite=Lax``, limited to ``/console`` and to ``session_hours``, and
``Secure`` when ``console.secure_cookies`` says so (by default when the public URL is https).
Signing out deletes the row, so a copied cookie stops working at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from yinzi.api.deps import ContextDep
from yinzi.console.auth import SESSION_COOKIE, OptionalViewerDep, ViewerDep, check_csrf
from yinzi.console.forms import MAX_NEXT_CHARS, alert, client_address, local_next
from yinzi.console.render import page
from yinzi.errors import BadRequest, NotFound, SignInLocked, SignInRefused
from yinzi.services import accounts, console_sessions, passwords
from yinzi.services.accounts import MAX_EMAIL_CHARS
from yinzi.settings import Settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

PASSWORD_FIELD = Annotated[str, Form(max_length=passwords.MAX_CHARS)]
EMAIL_FIELD = Annotated[str, Form(max_length=MAX_EMAIL_CHARS)]
NEXT_FIELD = Annotated[str, Form(max_length=MAX_NEXT_CHARS)]
TOKEN_PATH = Annotated[str, Path(max_length=passwords.MAX_TOKEN_CHARS)]


def secure_cookies(settings: Settings) -> bool:
    chosen = settings.console.secure_cookies
    return settings.base_url.startswith("https://") if chosen is None else chosen


def _signed_in(settings: Settings, token: str, target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.console.session_hours * 3600),
        path="/console",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )
    return response


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    viewer: OptionalViewerDep,
    next: Annotated[str, Query(max_length=MAX_NEXT_CHARS)] = "",
) -> Response:
    if viewer is not None:
        return RedirectResponse(local_next(next), status_code=303)
    return _sign_in_form(request, {"next": local_next(next)})


def _sign_in_form(request: Request, values: dict[str, Any], status: int = 200) -> Response:
    signup = request.app.state.ctx.settings.console.signup
    return page(request, "sign_in.html", {"signup": signup, **values}, status=status)


@router.post("/sign-in")
def sign_in(
    request: Request,
    ctx: ContextDep,
    email: EMAIL_FIELD = "",
    password: PASSWORD_FIELD = "",
    next: NEXT_FIELD = "",
) -> Response:
    settings = ctx.settings
    try:
        account = passwords.sign_in(ctx.db, email, password, client_address(request), settings)
    except (SignInRefused, SignInLocked) as exc:
        values = {"next": local_next(next), "email": email, "alert": alert(request, exc.message)}
        return _sign_in_form(request, values, status=exc.status)
    with ctx.db.write() as session:
        token, _ = console_sessions.start(session, account, settings.console.session_hours)
    return _signed_in(settings, token, local_next(next))


@router.post("/sign-out")
def sign_out(ctx: ContextDep, viewer: OptionalViewerDep) -> Response:
    if viewer is not None:
        with ctx.db.write() as session:
            console_sessions.end(session, viewer.token_hash)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(ctx.settings),
    )
    return response


def _require_signup(settings: Settings) -> None:
    if not settings.console.signup:
        raise NotFound("Page not found")


@router.get("/sign-up")
def sign_up_page(request: Request, ctx: ContextDep) -> Response:
    _require_signup(ctx.settings)
    return page(request, "sign_up.html")


@router.post("/sign-up")
def sign_up(
    request: Request,
    ctx: ContextDep,
    email: EMAIL_FIELD = "",
    password: PASSWORD_FIELD = "",
    confirm: PASSWORD_FIELD = "",
) -> Response:
    settings = ctx.settings
    _require_signup(settings)
    try:
        _same(password, confirm)
        digest = passwords.new_hash(password)
        with ctx.db.write() as session:
            account, _ = accounts.create_account(
                session, email, credits=settings.console.signup_credits
            )
            passwords.store_hash(session, account.id, digest)
            token, _ = console_sessions.start(session, account, settings.console.session_hours)
    except BadRequest as exc:
        values = {"email": email, "alert": alert(request, exc.message)}
        return page(request, "sign_up.html", values, status=400)
    return _signed_in(settings, token, "/console/")


def _same(password: str, confirm: str) -> None:
    if password != confirm:
        raise BadRequest("The two passwords are not the same.")


@router.get("/password")
def password_page(request: Request, viewer: ViewerDep) -> Response:
    return page(request, "password.html")


@router.post("/password")
def change_password(
    request: Request,
    ctx: ContextDep,
    viewer: ViewerDep,
    current: PASSWORD_FIELD = "",
    new: PASSWORD_FIELD = "",
    confirm: PASSWORD_FIELD = "",
) -> Response:
    try:
        _same(new, confirm)
        passwords.change_password(
            ctx.db, viewer.account_id, current, new, keep_session=viewer.token_hash
        )
    except BadRequest as exc:
        return page(request, "password.html", {"alert": alert(request, exc.message)}, status=400)
    return page(request, "password.html", {"changed": True})


@router.get("/set-password/{token}")
def set_password_page(request: Request, ctx: ContextDep, token: TOKEN_PATH) -> Response:
    try:
        with ctx.db.read() as session:
            email = passwords.link_account(session, token).email
    except passwords.LinkInvalid as exc:
        values = {"invalid": True, "alert": alert(request, exc.message)}
        return page(request, "set_password.html", values, status=exc.status)
    return page(request, "set_password.html", {"email": email})


@router.post("/set-password/{token}")
def set_password(
    request: Request,
    ctx: ContextDep,
    token: TOKEN_PATH,
    new: PASSWORD_FIELD = "",
    confirm: PASSWORD_FIELD = "",
) -> Response:
    email = ""
    try:
        with ctx.db.read() as session:
            email = passwords.link_account(session, token).email
        _same(new, confirm)
        passwords.use_link(ctx.db, token, new)
    except BadRequest as exc:
        values = {"email": email, "invalid": not email, "alert": alert(request, exc.message)}
        return page(request, "set_password.html", values, status=400)
    return page(request, "set_password.html", {"email": email, "done": True})
