"""Console pages: the overview, the language switch, and the orders feed pages poll.

The feed answers only for the viewer's own orders: a number of another account's order, or one
that does not exist, is left out of the answer, so the feed tells nothing about it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from yinzi.api.deps import ContextDep
from yinzi.console import i18n, labels
from yinzi.console.auth import ViewerDep, check_csrf
from yinzi.console.forms import MAX_NEXT_CHARS, local_next
from yinzi.console.render import page
from yinzi.db.models import Order
from yinzi.errors import BadRequest
from yinzi.services import accounts, billing, orders

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

RECENT_ORDERS = 10
MAX_FEED_ORDERS = 50
MAX_ORDER_NO_CHARS = 64
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


@router.get("/")
def overview(request: Request, ctx: ContextDep, viewer: ViewerDep) -> Response:
    lang = i18n.negotiate(request)
    with ctx.db.read() as session:
        account = accounts.by_id(session, viewer.account_id)
        balance = billing.balance(session, account.id)
        recent, total = orders.page(session, account, 1, RECENT_ORDERS)
        has_key = any(key.revoked_at is None for key in accounts.list_keys(session, account))
        rows = [_row(lang, order) for order in recent]
    values = {
        "balance": balance,
        "orders": rows,
        "total_orders": total,
        "first_steps": not has_key or total == 0,
        "has_key": has_key,
    }
    return page(request, "home.html", values, nav="home")


def _row(lang: str, order: Order) -> dict[str, Any]:
    return {
        "no": order.order_no,
        "type": labels.order_type_label(lang, order.order_type),
        "created_at": order.created_at,
        **_live(lang, order),
    }


def _live(lang: str, order: Order) -> dict[str, Any]:
    """The fields the live markup shows and the feed refreshes."""
    return {
        "status": order.status,
        "statusLabel": labels.status_label(lang, order.status),
        "progress": order.progress,
        "stage": order.stage,
        "stageLabel": labels.stage_label(lang, order.stage),
    }


@router.get("/feed/orders")
def feed(
    request: Request,
    ctx: ContextDep,
    viewer: ViewerDep,
    no: Annotated[list[str], Query(max_length=MAX_FEED_ORDERS)] = [],  # noqa: B006
) -> dict[str, list[dict[str, Any]]]:
    """``{"orders": [{"orderNo", "status", "statusLabel", "progress", "stage", "stageLabel"}]}``
    for the viewer's orders among ``no`` (at most MAX_FEED_ORDERS numbers)."""
    if any(len(number) > MAX_ORDER_NO_CHARS for number in no):
        raise BadRequest("order numbers are at most 64 characters")
    lang = i18n.negotiate(request)
    numbers = list(dict.fromkeys(no))
    with ctx.db.read() as session:
        mine = {
            order.order_no: order
            for order in session.scalars(
                select(Order).where(
                    Order.account_id == viewer.account_id, Order.order_no.in_(numbers)
                )
            )
        }
    found = [{"orderNo": n, **_live(lang, mine[n])} for n in numbers if n in mine]
    return {"orders": found}


@router.get("/language")
def language(
    to: Annotated[str, Query(max_length=8)] = i18n.DEFAULT,
    next: Annotated[str, Query(max_length=MAX_NEXT_CHARS)] = "",
) -> Response:
    """Remember the chosen language for a year and go back to ``next`` (a console page)."""
    if to not in i18n.LANGUAGES:
        raise BadRequest(f"unknown language {to!r}")
    response = RedirectResponse(local_next(next), status_code=303)
    response.set_cookie(
        i18n.COOKIE, to, max_age=LANGUAGE_COOKIE_SECONDS, path="/console", samesite="lax"
    )
    return response
