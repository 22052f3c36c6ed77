"""The new-order page: choose a type, give the input (an uploaded file or a URL), see the price,
submit; and short-video analysis, whose result is shown on the page.

Without JavaScript the order form posts the file itself (multipart). With ``orders.js`` the file
goes first to ``POST /console/uploads`` (with an upload progress bar), whose JSON answer puts the
stored file's key into the form and the exact price of each type on the page. Either way the
order is created by :func:`yinzi.services.submit.submit`, the Open API's own path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from yinzi.api.deps import ContextDep, DispatcherDep
from yinzi.api.limits import MAX_SHARE_TEXT, MAX_URL, MAX_WORD
from yinzi.console import i18n, render
from yinzi.console.auth import ViewerDep
from yinzi.console.i18n import N_
from yinzi.console.labels import ORDER_TYPES
from yinzi.context import Context
from yinzi.db.models import Account
from yinzi.errors import BadRequest, InsufficientCredits, Maintenance, YinziError
from yinzi.queue.base import Dispatcher
from yinzi.services import (
    accounts,
    analyze,
    music,
    orders,
    pricing,
    stem_names,
    submit,
    uploads,
)
from yinzi.services.console_sessions import Viewer
from yinzi.services.orders import FORMATS

router = APIRouter()
FORM_TYPES = (
    "track-separation",
    "extract-voice",
    "extract-music",
    "extract-text",
    "split_stem",
    "split_stem_advanced",
    "text-to-music",
)
"""The order types the form offers (``separate_vocal`` is track-separation by another name)."""
LIMITS = {
    "order_type": MAX_WORD,
    "url": MAX_URL,
    "path_key": MAX_URL,
    "format": MAX_WORD,
    "language": MAX_WORD,
    "stem_name": 64,
    "text": music.MAX_TEXT,
    "length": 4,
    "link": MAX_SHARE_TEXT,
}
"""The longest value each form field takes."""
DEFAULTS = {"order_type": "track-separation", "format": "mp3", "language": "auto", "length": "4"}


def account_of(ctx: Context, viewer: Viewer) -> Account:
    with ctx.db.read() as session:
        return accounts.by_id(session, viewer.account_id)


def field(form: FormData, name: str) -> str:
    """A text field of the form, stripped; BadRequest when it is longer than its limit."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > LIMITS[name]:
        raise BadRequest(f"{name} must be at most {LIMITS[name]} characters")
    return text


def message(lang: str, exc: YinziError) -> tuple[str, bool]:
    """What the page says about ``exc``, and whether it is a translated sentence (else the
    service's own English message)."""
    if isinstance(exc, InsufficientCredits):
        return i18n.gettext(lang, N_("You do not have enough credits for this order.")), True
    if isinstance(exc, Maintenance):
        return i18n.gettext(
            lang, N_("New orders are paused for maintenance. Try again later.")
        ), True
    return exc.message, False


def new_page(
    request: Request, ctx: Context, values: dict[str, str], *, status: int = 200, **extra: Any
) -> Response:
    error = extra.pop("error", None)
    lang = i18n.negotiate(request)
    context: dict[str, Any] = {
        "values": DEFAULTS | values,
        "types": [(name, ORDER_TYPES[name]) for name in FORM_TYPES],
        "formats": FORMATS,
        "quotes": pricing.quotes(ctx.settings),
        "stems": stem_names.engine_stems(ctx.settings),
        "stem_names": [item.name for item in stem_names.CATALOGUE],
        "max_upload_mb": ctx.settings.max_upload_bytes // (1024 * 1024),
        "limits": LIMITS,
        "analysis": None,
        "analysis_error": None,
        "analysis_error_translated": False,
        "error": None,
        "error_translated": False,
    }
    if error is not None:
        context["error"], context["error_translated"] = message(lang, error)
    context.update(extra)
    return render.page(request, "order_new.html", context, status=status, nav="new")


def _status(exc: YinziError) -> int:
    """The page's status for a refused form: the error's own when it is a client error."""
    return exc.status if 400 <= exc.status < 500 else 400


@router.get("/orders/new")
def new_order(request: Request, viewer: ViewerDep, ctx: ContextDep) -> Response:
    return new_page(request, ctx, {})


@router.post("/orders")
async def create_order(
    request: Request, viewer: ViewerDep, ctx: ContextDep, dispatcher: DispatcherDep
) -> Response:
    """A file sent with the form is stored first; if the order is then refused, the form comes
    back holding the stored file's key, so it need not be sent again."""
    form = await request.form()
    values = {name: v for name, v in form.items() if isinstance(v, str) and name in LIMITS}
    try:
        account = await run_in_threadpool(account_of, ctx, viewer)
        file = form.get("file")
        if values.get("order_type") != music.ORDER_TYPE and isinstance(file, UploadFile):
            if file.filename:
                values["path_key"] = await run_in_threadpool(
                    uploads.store, ctx, account, file.file, file.filename, file.content_type
                )
        order_no = await run_in_threadpool(_create, ctx, dispatcher, account, form, values)
    except YinziError as exc:
        return new_page(request, ctx, values, status=_status(exc), error=exc)
    return RedirectResponse(f"/console/orders/{order_no}", status_code=303)


def _create(
    ctx: Context, dispatcher: Dispatcher, account: Account, form: FormData, values: dict[str, str]
) -> str:
    order_type = field(form, "order_type")
    source = values.get("path_key", "").strip() or field(form, "url")
    if len(source) > MAX_URL:
        raise BadRequest(f"path_key must be at most {MAX_URL} characters")
    if order_type != music.ORDER_TYPE and not source:
        raise BadRequest("choose an audio file or give an audio URL")
    length = field(form, "length")
    stuff = submit.Stuff(
        path_key=source,
        format=field(form, "format") or None,
        language=field(form, "language") or None,
        stem_name=field(form, "stem_name") or None,
        text=field(form, "text"),
        length=int(length) if length.isdigit() else length,
    )
    return submit.submit(ctx, dispatcher, account, order_type, stuff).order_no


@router.post("/uploads")
async def upload(request: Request, viewer: ViewerDep, ctx: ContextDep) -> Response:
    """Store one file (multipart field ``file``); JSON ``{pathKey, filename, seconds,
    quotes: {type: credits}}``, or ``{error}`` with the error's status."""
    try:
        form = await request.form()
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise BadRequest("file is required (multipart field 'file')")
        answer = await run_in_threadpool(_store, ctx, viewer, file)
    except YinziError as exc:
        text, _ = message(i18n.negotiate(request), exc)
        return JSONResponse({"error": text}, exc.status)
    return JSONResponse(answer)


def _store(ctx: Context, viewer: Viewer, file: UploadFile) -> dict[str, Any]:
    orders.check_accepting(ctx.settings)
    account = account_of(ctx, viewer)
    key = uploads.store(ctx, account, file.file, file.filename, file.content_type)
    seconds = uploads.duration(ctx, key)
    quotes = pricing.quotes(ctx.settings, seconds=seconds)
    return {
        "pathKey": key,
        "filename": key.rsplit("/", 1)[-1],
        "seconds": seconds,
        "quotes": {name: quote.credits for name, quote in quotes.items()},
    }


@router.post("/orders/analyze")
async def analyze_link(request: Request, viewer: ViewerDep, ctx: ContextDep) -> Response:
    form = await request.form()
    sent = form.get("link")
    values = {"link": sent if isinstance(sent, str) else ""}
    try:
        link = field(form, "link")
        if not link:
            raise BadRequest("link is required")
        account = await run_in_threadpool(account_of, ctx, viewer)
        result = await analyze.analyze_gated(
            request.app.state.links_gate,
            ctx,
            account,
            link,
            extract_music=form.get("extract_music") == "on",
        )
    except YinziError as exc:
        text, translated = message(i18n.negotiate(request), exc)
        failed = {"analysis_error": text, "analysis_error_translated": translated}
        return new_page(request, ctx, values, status=_status(exc), **failed)
    return new_page(request, ctx, values, analysis=result)
