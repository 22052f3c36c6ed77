"""Open API v1, the platform's own dialect: ``{"code": 0, "data": ..., "msg": "success"}``.

Errors use the same envelope with ``code`` equal to the HTTP status, one of the codes the dialect
documents: 400 (request error: bad parameters, unknown order, insufficient credits, a reused
Idempotency-Key), 401 (missing or invalid API key) and 500. Like the HTTP-level answers (404, 405,
413, 429), maintenance keeps an HTTP meaning of its own: 503, come back later.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from yinzi.api.deps import ContextDep, DispatcherDep, IdempotencyKey, OpenApiKey, bearer_token
from yinzi.api.limits import (
    MAX_ID,
    MAX_SHARE_TEXT,
    MAX_URL,
    MAX_WORD,
)
from yinzi.context import Context
from yinzi.db.models import Account, Order
from yinzi.errors import BadRequest, Maintenance, YinziError
from yinzi.services import analyze as analysis
from yinzi.services import orders, retention, submit, uploads
from yinzi.services.orders import ORDER_KINDS, OrderStatus

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


@router.post("/order/create")
def create_order(
    body: OrderCreate,
    key: OpenApiKey,
    ctx: ContextDep,
    dispatcher: DispatcherDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    account = ctx.keys.check(ctx.db, key)
    stuff = body.stuff or StuffIn()
    order = submit.submit(
        ctx,
        dispatcher,
        account,
        body.orderType,
        submit.Stuff(
            path_key=stuff.pathKey,
            format=stuff.format,
            language=stuff.language,
            stem_name=stuff.stemName,
            text=stuff.text,
            length=stuff.length,
        ),
        idempotency_key=idempotency_key,
        fingerprint=orders.request_hash(body.model_dump(mode="json")),
    )
    return ok(_created(order))


def _created(order: Order) -> dict[str, Any]:
    return {
        "orderNo": order.order_no,
        "orderType": order.order_type,
        "orderStatus": order.status,
        "payStatus": order.pay_status,
        "messageId": order.message_id,
    }


# Clients poll order/query while their orders run, so it is kept cheap: no database work for
# the key while the auth cache holds it (else one thread-pool call), one Core query for the order
# (on SQLite right here: see Database.read_async), and the envelope encoded here, with no
# response model to validate (a sync route returning a dict costs two thread-pool calls: the
# route, then that validation).
@router.get("/order/query")
async def query_order(
    key: OpenApiKey, ctx: ContextDep, orderNo: Annotated[str, Query(max_length=MAX_ID)] = ""
) -> JSONResponse:
    account = ctx.keys.cached(key)
    if account is None:
        account = await run_in_threadpool(ctx.keys.check, ctx.db, key)
    if not orderNo:
        raise BadRequest("orderNo is required")
    view = await ctx.db.read_async(lambda connection: _view(ctx, connection, account, orderNo))
    return JSONResponse(ok(view))


def _shown(ctx: Context, account: Account, order_no: str) -> dict[str, Any]:
    """The account's order as ``order/query`` shows it, with its available balance."""
    with ctx.db.connect() as connection:
        return _view(ctx, connection, account, order_no)


def _view(ctx: Context, connection: Connection, account: Account, order_no: str) -> dict[str, Any]:
    row = orders.shown(connection, account.id, order_no)
    return {**order_view(ctx, connection, row), "balance": row.available}


RESULTS_DELETED = retention.RESULTS_DELETED


def order_view(
    ctx: Context, session: Session | Connection, order: orders.Shown, *, links: bool = True
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
    account = ctx.keys.check(ctx.db, key)
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
    account = ctx.keys.check(ctx.db, key)
    order_no = _order_no(body)
    orders.cancel(ctx.db, account, order_no)
    return ok(_shown(ctx, account, order_no))


@router.post("/order/delete-results")
def delete_results(body: OrderRef, key: OpenApiKey, ctx: ContextDep) -> dict[str, Any]:
    """Delete an ended order's stored results now; the order itself stays."""
    account = ctx.keys.check(ctx.db, key)
    order_no = _order_no(body)
    retention.delete_results(ctx, account, order_no)
    return ok(_shown(ctx, account, order_no))


UPLOAD_PATH = PREFIX + "/file/upload"
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
    account = await run_in_threadpool(ctx.keys.check, ctx.db, key)
    orders.check_accepting(ctx.settings)
    async with request.form(max_files=1, max_fields=8) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("file is required (multipart field 'file')")
        path_key = await run_in_threadpool(
            uploads.store, ctx, account, file.file, file.filename, file.content_type
        )
    return ok({"pathKey": path_key})


class AnalyzeRequest(BaseModel):
    link: str | None = Field(None, max_length=MAX_SHARE_TEXT)
    extractMusic: bool = False


@router.post("/short-video/analyze")
async def analyze_short_video(
    body: AnalyzeRequest, key: OpenApiKey, ctx: ContextDep, request: Request
) -> dict[str, Any]:
    """Runs in the links gate's own threads (see ``ConcurrencyGate``), so a site that hangs
    holds none of the threads that answer other requests."""
    account = await run_in_threadpool(ctx.keys.check, ctx.db, key)
    if not body.link or not body.link.strip():
        raise BadRequest("link is required")
    result = await analysis.analyze_gated(
        request.app.state.links_gate, ctx, account, body.link, extract_music=body.extractMusic
    )
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
