"""Console pages: administration (``/console/admin/``), for administrators only.

Every route takes ``AdminDep``: anyone else gets the 404 page, for GET and POST alike, so the
pages do not even show that they exist. Forms post back with the session's CSRF token and
redirect (303) to a page that shows what happened; the one exception is a new account's
set-password link, which is shown once, in the answer to the POST itself, and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from yinzi.api.deps import ContextDep
from yinzi.console import render
from yinzi.console.auth import AdminDep, check_csrf
from yinzi.console.i18n import N_
from yinzi.engines.report import report
from yinzi.errors import YinziError
from yinzi.models import status as model_status
from yinzi.services import accounts, admin
from yinzi.services.orders import ORDER_KINDS, OrderStatus

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_SEARCH_CHARS = 320
MAX_CREDITS_CHARS = 12
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Search = Annotated[str, Query(max_length=MAX_SEARCH_CHARS)]
AccountId = Annotated[int, Path(ge=1, le=2**62)]


DONE = {
    "disabled": N_("The account is disabled. Its console sessions have ended."),
    "enabled": N_("The account is enabled again."),
    "granted": N_("Credits granted."),
    "revoked": N_("Credits revoked."),
}
"""What a redirect's ``?done=`` says happened."""


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))


def _admin_page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    return render.page(request, f"admin/{template}", context, status=status, nav="admin")


@router.get("/admin/")
def summary(request: Request, viewer: AdminDep, ctx: ContextDep) -> Response:
    with ctx.db.read() as session:
        queue = admin.queue_state(session)
        totals = {"accounts": accounts.count(session), "orders": admin.order_count(session)}
    return _admin_page(request, "summary.html", {"queue": queue, **totals})


@router.get("/admin/accounts")
def accounts_list(
    request: Request, viewer: AdminDep, ctx: ContextDep, q: Search = "", page: Page = 1
) -> Response:
    return _accounts_page(request, ctx, q, page)


def _accounts_page(
    request: Request,
    ctx: ContextDep,
    search: str,
    number: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    with ctx.db.read() as session:
        rows, total = admin.accounts_page(session, number, PAGE_SIZE, search)
    context = {"rows": rows, "q": search, "pager": Pager(number, PAGE_SIZE, total)}
    return _admin_page(request, "accounts.html", context | (extra or {}), status)


@router.post("/admin/accounts")
def accounts_create(
    request: Request,
    viewer: AdminDep,
    ctx: ContextDep,
    email: Annotated[str, Form(max_length=accounts.MAX_EMAIL_CHARS)] = "",
    administrator: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    email = email.strip()
    form = {"email": email, "administrator": bool(administrator)}
    if "@" not in email:
        problem = N_("Enter the new account's email address.")
        return _accounts_page(request, ctx, "", 1, {"form": form, "problem": problem}, 400)
    try:
        with ctx.db.write() as session:
            created = admin.create_account(session, email, is_admin=bool(administrator))
    except YinziError as exc:
        extra = {"form": form, "service_problem": exc.message}
        return _accounts_page(request, ctx, "", 1, extra, exc.status)
    link = f"{ctx.settings.base_url}/console/set-password/{created.link_token}"
    return _accounts_page(request, ctx, "", 1, {"created": created, "link": link}, 201)


@router.get("/admin/accounts/{account_id}")
def account_page(
    request: Request,
    viewer: AdminDep,
    ctx: ContextDep,
    account_id: AccountId,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _account_page(request, ctx, viewer.account_id, account_id, {"done": DONE.get(done)})


def _account_page(
    request: Request,
    ctx: ContextDep,
    viewer_id: int,
    account_id: int,
    extra: dict[str, Any],
    status: int = 200,
) -> Response:
    with ctx.db.read() as session:
        row = admin.get_account(session, account_id)
        orders, total = admin.orders_page(session, 1, 10, account_id=account_id)
    context = {
        "account": row,
        "orders": orders,
        "orders_total": total,
        "is_self": viewer_id == account_id,
    }
    return _admin_page(request, "account.html", context | extra, status)


@router.post("/admin/accounts/{account_id}/disable")
def account_disable(
    request: Request, viewer: AdminDep, ctx: ContextDep, account_id: AccountId
) -> Response:
    return _set_disabled(request, viewer.account_id, ctx, account_id, True)


@router.post("/admin/accounts/{account_id}/enable")
def account_enable(
    request: Request, viewer: AdminDep, ctx: ContextDep, account_id: AccountId
) -> Response:
    return _set_disabled(request, viewer.account_id, ctx, account_id, False)


def _set_disabled(
    request: Request, viewer_id: int, ctx: ContextDep, account_id: int, disabled: bool
) -> Response:
    try:
        with ctx.db.write() as session:
            admin.set_disabled(session, account_id, disabled, actor_id=viewer_id)
    except YinziError as exc:
        if exc.status == 404:
            raise
        problem = N_("You cannot disable your own account.")
        return _account_page(request, ctx, viewer_id, account_id, {"problem": problem}, exc.status)
    return _done(account_id, "disabled" if disabled else "enabled")


@router.post("/admin/accounts/{account_id}/credits")
def account_credits(
    request: Request,
    viewer: AdminDep,
    ctx: ContextDep,
    account_id: AccountId,
    credits: Annotated[str, Form(max_length=MAX_CREDITS_CHARS)] = "",
    note: Annotated[str, Form(max_length=admin.MAX_NOTE_CHARS)] = "",
    action: Annotated[Literal["grant", "revoke"], Form()] = "grant",
) -> Response:
    amount = int(credits) if credits.strip().isdecimal() else 0
    form = {"credits": credits, "note": note}
    if not 0 < amount <= admin.MAX_CREDITS:
        problem = N_("Enter a whole number of credits above 0.")
        extra = {"problem": problem, "form": form}
        return _account_page(request, ctx, viewer.account_id, account_id, extra, 400)
    move = admin.grant if action == "grant" else admin.revoke
    try:
        with ctx.db.write() as session:
            move(session, account_id, amount, note.strip())
    except YinziError as exc:
        if exc.status == 404:
            raise
        extra = {"service_problem": exc.message, "form": form}
        return _account_page(request, ctx, viewer.account_id, account_id, extra, exc.status)
    return _done(account_id, "granted" if action == "grant" else "revoked")


def _done(account_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/console/admin/accounts/{account_id}?done={what}", status_code=303)


@router.get("/admin/orders")
def orders_list(
    request: Request,
    viewer: AdminDep,
    ctx: ContextDep,
    status: Annotated[str, Query(max_length=16)] = "",
    type: Annotated[str, Query(max_length=32)] = "",
    email: Search = "",
    account: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    page: Page = 1,
) -> Response:
    """Every account's orders; ``account`` (an id) narrows them to one account exactly."""
    status = status if status in tuple(OrderStatus) else ""
    order_type = type if type in ORDER_KINDS else ""
    with ctx.db.read() as session:
        rows, total = admin.orders_page(
            session,
            page,
            PAGE_SIZE,
            status=status,
            order_type=order_type,
            email=email,
            account_id=account,
        )
    filters: dict[str, str | int] = {"status": status, "type": order_type, "email": email}
    if account is not None:
        filters["account"] = account
    context = {
        "rows": rows,
        "pager": Pager(page, PAGE_SIZE, total),
        "filters": filters,
        "statuses": list(OrderStatus),
        "types": list(ORDER_KINDS),
    }
    return _admin_page(request, "orders.html", context)


@router.get("/admin/engines")
def engines(request: Request, viewer: AdminDep, ctx: ContextDep) -> Response:
    settings = ctx.settings
    context = {
        "report": report(settings),
        "models": list(model_status.rows(settings.models_dir)),
        "models_dir": settings.models_dir,
    }
    return _admin_page(request, "engines.html", context)


@router.get("/admin/workers")
def workers(request: Request, viewer: AdminDep, ctx: ContextDep) -> Response:
    with ctx.db.read() as session:
        queue = admin.queue_state(session)
    return _admin_page(request, "workers.html", {"queue": queue, "settings": ctx.settings})
