"""Console pages: the credit ledger (every entry with the running available balance) and the
webhook signing secret (created or rotated here, shown once, never again)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from yinzi.api.deps import ContextDep
from yinzi.api.limits import MAX_WORD
from yinzi.console import render
from yinzi.console.auth import ViewerDep, check_csrf
from yinzi.services import billing, callbacks

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
PER_PAGE = 50
NUMBER = re.compile(r"[0-9]{1,6}")


@router.get("/credits")
def credits(
    request: Request,
    viewer: ViewerDep,
    ctx: ContextDep,
    page: Annotated[str, Query(max_length=MAX_WORD)] = "1",
) -> Response:
    number = int(page) if NUMBER.fullmatch(page) and int(page) > 0 else 1
    with ctx.db.read() as session:
        lines, total = billing.ledger_page(session, viewer.account_id, number, PER_PAGE)
        balance = billing.balance(session, viewer.account_id)
    context = {
        "lines": lines,
        "balance": balance,
        "number": number,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render.page(request, "credits.html", context, nav="credits")


@router.get("/webhooks")
def webhooks(request: Request, viewer: ViewerDep, ctx: ContextDep) -> Response:
    with ctx.db.read() as session:
        has_secret = callbacks.has_secret(session, viewer.account_id)
    context = {"has_secret": has_secret, "secret": None}
    return render.page(request, "webhooks.html", context, nav="webhooks")


@router.post("/webhooks")
def rotate(request: Request, viewer: ViewerDep, ctx: ContextDep) -> Response:
    """A new secret, answered in this page only (``Cache-Control: no-store``, no redirect)."""
    with ctx.db.write() as session:
        secret = callbacks.rotate_secret(session, viewer.account_id)
    context = {"has_secret": True, "secret": secret}
    return render.page(request, "webhooks.html", context, nav="webhooks")
