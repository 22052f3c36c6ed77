"""Dependencies shared by the dialects, as ``Annotated`` aliases routes use as plain params."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from yinzi.context import Context
from yinzi.db.models import Account
from yinzi.errors import MissingApiKey
from yinzi.queue.base import Dispatcher
from yinzi.services import accounts


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


ContextDep = Annotated[Context, Depends(get_context)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def account_for_key(ctx: Context, key: str | None) -> Account:
    if not key:
        raise MissingApiKey()
    with ctx.db.read() as session:
        return accounts.authenticate(session, key)


def open_api_account(request: Request, ctx: ContextDep) -> Account:
    """Open API auth: ``Authorization: Bearer KEY`` or ``?apiKey=KEY``."""
    return account_for_key(ctx, bearer_token(request) or request.query_params.get("apiKey"))


OpenApiAccount = Annotated[Account, Depends(open_api_account)]
