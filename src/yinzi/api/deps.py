"""Dependencies shared by the dialects, as ``Annotated`` aliases routes use as plain params.

Dependencies that do no I/O are ``async`` so FastAPI calls them inline instead of handing each
one to the thread pool; those that query the database stay synchronous.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from yinzi.api.limits import MAX_IDEMPOTENCY_KEY
from yinzi.context import Context
from yinzi.errors import MissingApiKey
from yinzi.queue.base import Dispatcher


async def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY)
]
ContextDep = Annotated[Context, Depends(get_context)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def open_api_key(request: Request) -> str:
    """Open API credentials: ``Authorization: Bearer KEY`` or ``?apiKey=KEY``.

    Only extracted here; the route checks the key in the same session as the rest of its work,
    so a request costs one database session and one thread-pool hop.
    """
    key = bearer_token(request) or request.query_params.get("apiKey")
    if not key:
        raise MissingApiKey()
    return key


OpenApiKey = Annotated[str, Depends(open_api_key)]
