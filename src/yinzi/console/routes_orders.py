"""Console pages: the viewer's orders (list with filters and paging), each order's page (live
progress, reason, players, previews, downloads), cancel and delete-results; the new-order page
and uploads come from :mod:`yinzi.console.new_order`.

Every order is looked up with :func:`yinzi.services.orders.get` as the signed-in account, so
another account's order, its result files and its actions are all "not found" (404).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yinzi.api.deps import ContextDep
from yinzi.api.limits import MAX_ID, MAX_WORD
from yinzi.console import new_order, render
from yinzi.console.auth import ViewerDep, check_csrf
from yinzi.console.labels import ORDER_TYPES, STATUSES
from yinzi.console.new_order import account_of
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.services import orders, results, retention
from yinzi.services.console_sessions import Viewer
from yinzi.services.orders import ACTIVE, ORDER_KINDS, OrderStatus

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
router.include_router(new_order.router)
PER_PAGE = 20
NUMBER = re.compile(r"[0-9]{1,6}")
OrderNo = Annotated[str, Path(max_length=MAX_ID)]


@router.get("/orders")
def order_list(
    request: Request,
    viewer: ViewerDep,
    ctx: ContextDep,
    status: Annotated[str, Query(max_length=MAX_WORD)] = "",
    type: Annotated[str, Query(max_length=MAX_WORD)] = "",
    page: Annotated[str, Query(max_length=MAX_WORD)] = "1",
) -> Response:
    """Unknown filter values are ignored (shown as "all"), a page past the end is empty."""
    status = status if status in OrderStatus.__members__.values() else ""
    type = type if type in ORDER_KINDS else ""
    number = int(page) if NUMBER.fullmatch(page) and int(page) > 0 else 1
    account = account_of(ctx, viewer)
    with ctx.db.read() as session:
        rows, total = orders.page(
            session, account, number, PER_PAGE, status=status or None, order_type=type or None
        )
    pages = max(1, -(-total // PER_PAGE))
    query = {"status": status, "type": type}
    context = {
        "orders": rows,
        "total": total,
        "number": number,
        "pages": pages,
        "query": {k: v for k, v in query.items() if v},
        "status": status,
        "type": type,
        "statuses": STATUSES,
        "types": {name: ORDER_TYPES.get(name, name) for name in ORDER_KINDS},
        "active": ACTIVE,
    }
    return render.page(request, "order_list.html", context, nav="orders")


def _owned(ctx: Context, viewer: Viewer, order_no: str) -> Order:
    account = account_of(ctx, viewer)
    with ctx.db.read() as session:
        return orders.get(session, account, order_no)


@router.get("/orders/{order_no}")
async def order_page(
    request: Request, order_no: OrderNo, viewer: ViewerDep, ctx: ContextDep
) -> Response:
    context = await run_in_threadpool(_detail, ctx, viewer, order_no)
    return render.page(request, "order_detail.html", context, nav="orders")


def _detail(ctx: Context, viewer: Viewer, order_no: str) -> dict[str, Any]:
    order = _owned(ctx, viewer, order_no)
    with ctx.db.read() as session:
        position = orders.queue_position(session, order)
    items = []
    for item in order.results if order.status == OrderStatus.FINISH else []:
        preview = results.preview(ctx, item) if results.is_text(item) else None
        items.append({**item, "audio": results.is_audio(item), "preview": preview})
    return {
        "order": order,
        "active": order.status in ACTIVE,
        "ended": order.status not in ACTIVE,
        "position": position,
        "items": items,
        "deleted": order.purged_at is not None,
        "reason": order.reason,
    }


@router.get("/orders/{order_no}/results/{name}")
def result_file(
    order_no: OrderNo,
    name: Annotated[str, Path(max_length=200)],
    viewer: ViewerDep,
    ctx: ContextDep,
) -> Response:
    """A result of the viewer's order: a redirect to its signed, expiring link."""
    item = results.find(_owned(ctx, viewer, order_no), name)
    return RedirectResponse(results.link(ctx, item), status_code=307)


@router.post("/orders/{order_no}/cancel")
def cancel(order_no: OrderNo, viewer: ViewerDep, ctx: ContextDep) -> Response:
    orders.cancel(ctx.db, account_of(ctx, viewer), order_no)
    return RedirectResponse(f"/console/orders/{order_no}", status_code=303)


@router.post("/orders/{order_no}/delete-results")
def delete_results(order_no: OrderNo, viewer: ViewerDep, ctx: ContextDep) -> Response:
    retention.delete_results(ctx, account_of(ctx, viewer), order_no)
    return RedirectResponse(f"/console/orders/{order_no}", status_code=303)
