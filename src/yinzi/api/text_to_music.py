"""The text-to-music dialect (Yating-compatible): plain JSON resources, NestJS-style errors.

A task is an order of type ``text-to-music``; its ``uid`` is the order's message id (a UUID) and
its ``taskId`` the order number, which also names it to the vocal-removal API. Errors answer
``{"statusCode", "message", "error"}``, validation errors with a list of messages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from yinzi.api.deps import ContextDep, DispatcherDep
from yinzi.api.limits import MAX_ID, MAX_WORD
from yinzi.context import Context
from yinzi.db.models import Account, Order
from yinzi.errors import Maintenance, MissingApiKey, NotFound, YinziError
from yinzi.services.music import BadMusicRequest, create_task, validate
from yinzi.services.orders import OrderStatus

PREFIX = "/v1/textToMusic"
router = APIRouter(prefix=PREFIX, tags=["Text to music (Yating-compatible)"])
NUMBER = re.compile(r"[0-9]{1,7}")
"""Paging numbers: ASCII digits only, and small enough for any database's integers."""
STATUSES = {
    OrderStatus.PENDING: "pending",
    OrderStatus.PROCESSING: "ongoing",
    OrderStatus.FINISH: "completed",
    OrderStatus.FAILED: "error",
    OrderStatus.TIMEOUT: "error",
}
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def render_error(exc: YinziError) -> JSONResponse:
    status = exc.status if exc.status in REASONS else 500
    if exc.status == 422:
        status = 400
    if isinstance(exc, Maintenance):
        status = 503
    message: Any = getattr(exc, "messages", None) or exc.message
    if status == 400 and isinstance(message, str):
        message = [message]
    error = REASONS.get(status, "Internal Server Error")
    return JSONResponse({"statusCode": status, "message": message, "error": error}, status)


def has_credentials(request: Request) -> bool:
    return bool(request.headers.get("key"))


def _account(ctx: Context, key: str | None) -> Account:
    if not key:
        raise MissingApiKey("Unauthorized")
    return ctx.keys.check(ctx.db, key)


KeyHeader = Annotated[str | None, Header(alias="key")]


@router.post("", status_code=201)
def create(
    ctx: ContextDep,
    dispatcher: DispatcherDep,
    key: KeyHeader = None,
    body: Annotated[Any, Body()] = None,
) -> dict[str, Any]:
    account = _account(ctx, key)
    if not isinstance(body, dict):
        raise BadMusicRequest(["the body must be a JSON object with text and config"])
    config = body.get("config")
    length = config.get("length") if isinstance(config, dict) else None
    text, bars = validate(body.get("text"), length)
    order = create_task(ctx, account, text, bars)
    dispatcher.dispatch(order.order_no)
    return {
        "uid": order.message_id,
        "status": STATUSES[OrderStatus(order.status)],
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
    }


@router.get("/{uid}")
def get(
    uid: Annotated[str, Path(max_length=MAX_ID)], ctx: ContextDep, key: KeyHeader = None
) -> dict[str, Any]:
    account = _account(ctx, key)
    with ctx.db.read() as session:
        order = session.execute(
            select(Order).where(
                Order.message_id == uid,
                Order.account_id == account.id,
                Order.order_type == "text-to-music",
            )
        ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"task {uid} not found")
    view = {k: v for k, v in item(ctx, order).items() if k in ("uid", "status", "text", "config")}
    view["audioUrl"] = audio_url(ctx, order)
    if view["status"] == "error":
        view["reason"] = order.reason
    view["progress"], view["stage"] = order.progress, order.stage  # extra fields, see docs
    return view


@router.get("")
def list_tasks(
    ctx: ContextDep,
    key: KeyHeader = None,
    page: Annotated[str, Query(max_length=MAX_WORD)] = "1",
    perPage: Annotated[str, Query(max_length=MAX_WORD)] = "10",
    status: Annotated[str | None, Query(max_length=MAX_WORD)] = None,
) -> dict[str, Any]:
    account = _account(ctx, key)
    number, size, wanted = _paging(page, perPage, status)
    where = [Order.account_id == account.id, Order.order_type == "text-to-music"]
    if wanted is not None:
        where.append(Order.status.in_([k for k, v in STATUSES.items() if v == wanted]))
    with ctx.db.read() as session:
        total = int(
            session.execute(select(func.count()).select_from(Order).where(*where)).scalar_one()
        )
        rows = (
            session.execute(
                select(Order)
                .where(*where)
                .order_by(Order.created_at.desc(), Order.order_no)
                .offset((number - 1) * size)
                .limit(size)
            )
            .scalars()
            .all()
        )
    return {
        "page": number,
        "perPage": size,
        "total": total,
        "nextPage": number + 1 if number * size < total else None,
        "data": [item(ctx, order) for order in rows],
    }


def _paging(page: str, per_page: str, status: str | None) -> tuple[int, int, str | None]:
    problems = []
    number = int(page) if NUMBER.fullmatch(page) else 0
    size = int(per_page) if NUMBER.fullmatch(per_page) else 0
    if number < 1:
        problems.append("page must be an integer from 1 to 9999999")
    if not 1 <= size <= 100:
        problems.append("perPage must be an integer from 1 to 100")
    if status is not None and status not in ("pending", "ongoing", "completed", "error"):
        problems.append(
            "status must be one of the following values: pending, ongoing, completed, error"
        )
    if problems:
        raise BadMusicRequest(problems)
    return number, size, status


def audio_url(ctx: Context, order: Order) -> str | None:
    if order.status != OrderStatus.FINISH or not order.results:
        return None
    return ctx.storage.url(order.results[0]["key"], ttl_seconds=ctx.settings.link_ttl_seconds)


def item(ctx: Context, order: Order) -> dict[str, Any]:
    return {
        "uid": order.message_id,
        "taskId": order.order_no,
        "status": STATUSES[OrderStatus(order.status)],
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
        "text": order.options["text"],
        "config": {"length": order.options["length"]},
        "audioUrl": audio_url(ctx, order),
    }


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as the seed shows: ``2024-03-06T14:42:57.607Z``."""
    return moment.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
