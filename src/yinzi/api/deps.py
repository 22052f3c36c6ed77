"""Dependencies shared by the dialects, as ``Annotated`` aliases routes use as plain params.

Dependencies that do no I/O are ``async`` so FastAPI calls them inline instead of handing each
one to the thread pool; those that query the database stay synchronous.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from yinzi.api.limits import MAX_IDEMPOTENCY_KEY
from yinzi.context import Context
from yinzi.errors import BadRequest, MissingApiKey
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


async def text_is_storable(request: Request) -> None:
    """Refuse request text the database could not hold: a NUL, or a string that is not Unicode.

    PostgreSQL refuses NUL in text, and ``json.loads`` accepts ``"\\ud800"`` (a lone surrogate),
    which no UTF-8 encoder takes: either would fail later, when stored, looked up or echoed in an
    error, as a 500. Checks path and query parameters and the strings of a JSON body, keys too.
    A dependency of the whole app, so it runs after FastAPI has parsed the body, which
    ``request.json()`` keeps.
    """
    strings: list[Any] = [*request.path_params.values(), *request.query_params.values()]
    if request.method not in ("GET", "HEAD") and _is_json(request.headers.get("content-type", "")):
        try:
            strings.append(await request.json())
        except (ValueError, RecursionError):  # not JSON: the route's own validation says so
            pass
    if not all(_is_storable(text) for text in _strings(strings)):
        raise BadRequest("text in the request must not contain NUL characters or lone surrogates")


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


def _is_storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
