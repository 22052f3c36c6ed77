"""Open API v1, the platform's own dialect: ``{"code": 0, "data": ..., "msg": "success"}``.

Errors use the same envelope with ``code`` equal to the HTTP status, one of the codes the dialect
documents: 400 (request error: bad parameters, unknown order, insufficient credits, a reused
Idempotency-Key), 401 (missing or invalid API key) and 500. Like the HTTP-level answers (404, 405,
413, 429), maintenance keeps an HTTP meaning of its own: 503, come back later.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from yinzi import media
from yinzi.api import text_to_music
from yinzi.api.deps import ContextDep, DispatcherDep, IdempotencyKey, OpenApiKey, bearer_token
from yinzi.api.limits import (
    MAX_ID,
    MAX_SHARE_TEXT,
    MAX_URL,
    MAX_WORD,
)
from yinzi.context import Context
from yinzi.db import utcnow
from yinzi.db.models import Account, Order, Upload
from yinzi.errors import BadRequest, Maintenance, MediaError, YinziError
from yinzi.services import analyze as analysis
from yinzi.services import orders, retention, stem_names
from yinzi.services.orders import FORMATS, ORDER_KINDS, OrderStatus
from yinzi.services.ratelimit import ConcurrencyGate

PREFIX = "/api/open/v1"
router = APIRouter(prefix=PREFIX, tags=["Open API v1"])


def ok(data: Any) -> dict[str, Any]:
    return {"code": 0, "data": data, "msg": "success"}


CODES = (400, 401, 500)
"""The error codes this dialect documents; other statuses map onto them."""


def render_error(exc: YinziError) -> JSONResponse:
    if isinstance(exc, Maintenance):
        code = 503
    elif exc.keeps_status or exc.status in CODES:
        code = exc.status
    else:
        code = 500 if exc.status >= 500 else 400
    return JSONResponse({"code": code, "data": None, "msg": exc.message}, code)


def has_credentials(request: Request) -> bool:
    return bool(bearer_token(request) or request.query_params.get("apiKey"))


class StuffIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    pathKey: str | None = Field(None, max_length=MAX_URL)
    format: str | None = Field(None, max_length=MAX_WORD)
    language: str | None = Field(None, max_length=MAX_WORD)
    stemName: str | None = Field(None, max_length=MAX_WORD)
    text: Any = None
    length: Any = None


class OrderCreate(BaseModel):
    orderType: str | None = Field(None, max_length=MAX_WORD)
    stuff: StuffIn | None = None


LANGUAGE = re.compile(r"^(auto|[a-z]{2,3}(-[a-z0-9]{2,8})?)$")
"""``auto``, or a language code with an optional script or region (``zh-tw``, ``zh-hans``)."""


def _validate(body: OrderCreate) -> tuple[str, str, dict[str, Any]]:
    if not body.orderType:
        raise BadRequest("orderType is required")
    kind = ORDER_KINDS.get(body.orderType)
    if kind is None:
        raise BadRequest(
            f"Unsupported orderType {body.orderType!r}; valid types: {', '.join(ORDER_KINDS)}"
        )
    stuff = body.stuff or StuffIn()
    if kind.family == "music":
        text, length = text_to_music.validate(stuff.text, stuff.length, "stuff.length")
        return kind.name, "", {"text": text, "length": length}
    path_key = (stuff.pathKey or "").strip()
    if not path_key:
        raise BadRequest("pathKey is required")
    if kind.family == "transcription":
        language = (stuff.language or "auto").strip().lower()
        if not LANGUAGE.match(language):
            raise BadRequest(
                "language must be 'auto' or a language code such as 'en', 'zh' or 'zh-TW'"
            )
        return kind.name, path_key, {"language": language}
    fmt = stuff.format or "mp3"
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    return kind.name, path_key, {"format": fmt}


@router.post("/order/create")
def create_order(
    body: OrderCreate,
    key: OpenApiKey,
    ctx: ContextDep,
    dispatcher: DispatcherDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    account = _authenticate(ctx, key)
    order_type, source, options = _validate(body)
    if order_type == stem_names.ORDER_TYPE:
        stem_name = body.stuff.stemName if body.stuff else None
        options |= stem_names.order_options(ctx.settings, stem_name, "stuff.stemName")
    fingerprint = orders.request_hash(body.model_dump(mode="json"))
    if order_type == "text-to-music":
        order = text_to_music.create_task(
            ctx,
            account,
            options["text"],
            options["length"],
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        dispatcher.dispatch(order.order_no)
        return ok(_created(order))
    with ctx.db.write() as session:
        order = orders.create(
            session,
            ctx.settings,
            account,
            order_type,
            source,
            options,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    dispatcher.dispatch(order.order_no)
    return ok(_created(order))


def _created(order: Order) -> dict[str, Any]:
    return {
        "orderNo": order.order_no,
        "orderType": order.order_type,
        "orderStatus": order.status,
        "payStatus": order.pay_status,
        "messageId": order.message_id,
    }


@router.get("/order/query")
def query_order(
    key: OpenApiKey, ctx: ContextDep, orderNo: Annotated[str, Query(max_length=MAX_ID)] = ""
) -> dict[str, Any]:
    with ctx.db.read() as session:
        account = ctx.keys.authenticate(session, key)
        if not orderNo:
            raise BadRequest("orderNo is required")
    return ok(_shown(ctx, account, orderNo))


def _shown(ctx: Context, account: Account, order_no: str) -> dict[str, Any]:
    """The account's order as ``order/query`` shows it, with its available balance."""
    with ctx.db.read() as session:
        order, available = orders.get_with_balance(session, account, order_no)
        return {**order_view(ctx, session, order), "balance": available}


RESULTS_DELETED = "results were deleted by the owner"


def order_view(
    ctx: Context, session: Session, order: Order, *, links: bool = True
) -> dict[str, Any]:
    """An order as the Open API shows it; ``links=False`` leaves out the results' URLs."""
    reason = order.reason
    if order.purged_at is not None and RESULTS_DELETED not in (reason or ""):
        reason = f"results were deleted after the {ctx.settings.retention_days:g}-day retention"
    stuffs = [
        {"name": item["name"], "business": item["business"]}
        | ({"url": _link(ctx, item["key"])} if links else {})
        for item in order.results
    ]
    return {
        "orderNo": order.order_no,
        "orderType": order.order_type,
        "status": order.status,
        "cost": order.cost,
        "reason": reason,
        "stuffs": stuffs if order.status == OrderStatus.FINISH else [],
        "progress": order.progress,
        "stage": order.stage,
        "queuePosition": orders.queue_position(session, order),
    }


def _link(ctx: Context, key: str) -> str:
    return ctx.storage.url(key, ttl_seconds=ctx.settings.link_ttl_seconds)


NUMBER = re.compile(r"[0-9]{1,7}")


@router.get("/order/list")
def list_orders(
    key: OpenApiKey,
    ctx: ContextDep,
    page: Annotated[str, Query(max_length=MAX_WORD)] = "1",
    perPage: Annotated[str, Query(max_length=MAX_WORD)] = "20",
    status: Annotated[str, Query(max_length=MAX_WORD)] = "",
    orderType: Annotated[str, Query(max_length=MAX_WORD)] = "",
) -> dict[str, Any]:
    """The caller's orders, newest first, as ``order/query`` shows them without links."""
    account = _authenticate(ctx, key)
    number, size = _paging(page, perPage)
    if status and status not in OrderStatus.__members__.values():
        raise BadRequest(f"status must be one of {', '.join(OrderStatus)}")
    if orderType and orderType not in ORDER_KINDS:
        raise BadRequest(f"orderType must be one of {', '.join(ORDER_KINDS)}")
    with ctx.db.read() as session:
        rows, total = orders.page(
            session, account, number, size, status=status or None, order_type=orderType or None
        )
        items = [order_view(ctx, session, order, links=False) for order in rows]
    return ok(
        {
            "items": items,
            "page": number,
            "perPage": size,
            "total": total,
            "nextPage": number + 1 if number * size < total else None,
        }
    )


def _paging(page: str, per_page: str) -> tuple[int, int]:
    number = int(page) if NUMBER.fullmatch(page.strip()) else 0
    size = int(per_page) if NUMBER.fullmatch(per_page.strip()) else 0
    if number < 1:
        raise BadRequest("page must be an integer from 1 to 9999999")
    if not 1 <= size <= 100:
        raise BadRequest("perPage must be an integer from 1 to 100")
    return number, size


class OrderRef(BaseModel):
    orderNo: str | None = Field(None, max_length=MAX_ID)


def _order_no(body: OrderRef) -> str:
    order_no = (body.orderNo or "").strip()
    if not order_no:
        raise BadRequest("orderNo is required")
    return order_no


@router.post("/order/cancel")
def cancel_order(body: OrderRef, key: OpenApiKey, ctx: ContextDep) -> dict[str, Any]:
    """End a pending order now, or stop a processing one within a few seconds."""
    account = _authenticate(ctx, key)
    order_no = _order_no(body)
    orders.cancel(ctx.db, account, order_no)
    return ok(_shown(ctx, account, order_no))


@router.post("/order/delete-results")
def delete_results(body: OrderRef, key: OpenApiKey, ctx: ContextDep) -> dict[str, Any]:
    """Delete an ended order's stored results now; the order itself stays."""
    account = _authenticate(ctx, key)
    order_no = _order_no(body)
    with ctx.db.read() as session:
        order = orders.get(session, account, order_no)
    orders.check_ended(order)
    reason = order.reason or ""
    if RESULTS_DELETED not in reason:
        reason = f"{reason} ({RESULTS_DELETED})" if reason else RESULTS_DELETED
    retention.purge_order(ctx, order_no, utcnow(), reason=reason)
    return ok(_shown(ctx, account, order_no))


UPLOAD_PATH = PREFIX + "/file/upload"
MAX_NAME_BYTES = 120
"""Stored file names are cut to this many UTF-8 bytes, keeping the extension."""
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    },
}


@router.post("/file/upload", openapi_extra={"requestBody": _UPLOAD_BODY})
async def upload_file(request: Request, key: OpenApiKey, ctx: ContextDep) -> dict[str, Any]:
    """Store one file (multipart field ``file``). The key is checked before the body is read,
    and the body streams to storage under the upload limit (see :mod:`yinzi.api.limits`).
    Refused under maintenance, like the orders an upload is for."""
    account = await run_in_threadpool(_authenticate, ctx, key)
    orders.check_accepting(ctx.settings)
    async with request.form(max_files=1, max_fields=8) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("file is required (multipart field 'file')")
        path_key = await run_in_threadpool(_store_upload, ctx, account, file)
    return ok({"pathKey": path_key})


def _authenticate(ctx: Context, key: str) -> Account:
    with ctx.db.read() as session:
        return ctx.keys.authenticate(session, key)


def _store_upload(ctx: Context, account: Account, file: UploadFile) -> str:
    """Store the file and check it is media with audio (in a worker thread: the check decodes);
    a file that is not, or whose check fails, is deleted again."""
    name = safe_name(file.filename or "upload")
    key = f"uploads/{secrets.token_urlsafe(18)}/{name}"
    size = ctx.storage.put_stream(key, file.file, max_bytes=ctx.settings.max_upload_bytes)
    try:
        if size == 0:
            raise BadRequest("the uploaded file is empty")
        _check_media(ctx, key)
    except Exception:
        ctx.storage.delete_prefix(key)
        raise
    with ctx.db.write() as session:
        session.add(
            Upload(
                key=key,
                account_id=account.id,
                filename=name,
                size=size,
                content_type=file.content_type,
            )
        )
    return key


def _check_media(ctx: Context, key: str) -> None:
    scratch = ctx.settings.data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        try:
            media.check_audio(ctx.storage.open_local(key, Path(work)))
        except MediaError as exc:
            raise BadRequest(f"file: {exc.message}; upload an audio or video file") from exc


def safe_name(filename: str) -> str:
    """A file name fit for a storage key: letters, digits, ``._-``; at most
    :data:`MAX_NAME_BYTES` bytes of UTF-8, cut before the extension, never mid-character."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in base).strip("._")
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not stem or len(ext) > 10:
        stem, ext = cleaned, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip("._")
    return f"{stem}{suffix}" if stem else "upload"


class AnalyzeRequest(BaseModel):
    link: str | None = Field(None, max_length=MAX_SHARE_TEXT)
    extractMusic: bool = False


@router.post("/short-video/analyze")
async def analyze_short_video(
    body: AnalyzeRequest, key: OpenApiKey, ctx: ContextDep, request: Request
) -> dict[str, Any]:
    """Runs in the links gate's own threads (see ``ConcurrencyGate``), so a site that hangs
    holds none of the threads that answer other requests."""
    account = await run_in_threadpool(_authenticate, ctx, key)
    if not body.link or not body.link.strip():
        raise BadRequest("link is required")
    gate: ConcurrencyGate = request.app.state.links_gate
    with gate.enter(account.id):
        work = partial(analysis.analyze, ctx, account, body.link, extract_music=body.extractMusic)
        result = await anyio.to_thread.run_sync(work, limiter=gate.limiter)
    return ok(
        {
            "title": result.title,
            "author": result.author,
            "cover": result.cover,
            "videoUrl": result.video_url,
            "musicUrl": result.music_url,
            "balance": result.balance,
        }
    )
