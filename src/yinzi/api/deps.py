"""Dependencies shared by the dialects, as ``Annotated`` aliases routes use as plain params.

Dependencies that do no I/O are ``async`` so FastAPI calls them inline instead of handing each
one to the thread pool; those that query the database stay synchronous.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request

from yinzi.context import Context
from yinzi.errors import BadRequest, MissingApiKey
from yinzi.queue.base import Dispatcher


async def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def get_dispatcher(request: Request) -> Dispatcher:
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


async def json_is_text(request: Request) -> None:
    """Refuse a JSON body holding a string that is not Unicode text (a lone surrogate escape).

    ``json.loads`` accepts ``"\\ud800"``, but no such string can be encoded as UTF-8: storing
    it, hashing it or echoing it in an error would fail later with a 500. A dependency of the
    whole app, run after FastAPI has parsed the body (``request.json()`` is cached).
    """
    if request.method in ("GET", "HEAD") or not _is_json(request.headers.get("content-type", "")):
        return
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON: the route's own validation says so
        return
    if not all(_is_text(s) for s in _strings(body)):
        raise BadRequest("the request body must be valid JSON text: a string in it is not Unicode")


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included (iteratively: bodies nest deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
