"""One way to create an order from what a client asked: validate, hold the price, dispatch.

The Open API's ``order/create`` and the console's new-order form both come through
:func:`submit`, so an order type, its input and its options are checked by the same rules and
priced the same way whichever door the request used. A :class:`Stuff` holds the client's
fields as sent (strings, or anything for ``text``/``length``, which JSON clients may send as
other types); :func:`validate` turns them into the order's type, source and options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yinzi.db.models import Account, Order
from yinzi.errors import BadRequest
from yinzi.services import music, orders, stem_names
from yinzi.services.orders import FORMATS, ORDER_KINDS

if TYPE_CHECKING:
    from yinzi.context import Context
    from yinzi.queue.base import Dispatcher

LANGUAGE = re.compile(r"^(auto|[a-z]{2,3}(-[a-z0-9]{2,8})?)$")
"""``auto``, or a language code with an optional script or region (``zh-tw``, ``zh-hans``)."""


@dataclass(frozen=True)
class Stuff:
    """An order's input as the client sent it (the Open API's ``stuff``)."""

    path_key: str | None = None
    format: str | None = None
    language: str | None = None
    stem_name: str | None = None
    text: Any = None
    length: Any = None


@dataclass(frozen=True)
class Validated:
    order_type: str
    source: str
    options: dict[str, Any]


def validate(ctx: Context, order_type: str | None, stuff: Stuff) -> Validated:
    """The order a request describes, or BadRequest/ValidationFailed saying what is wrong."""
    if not order_type:
        raise BadRequest("orderType is required")
    kind = ORDER_KINDS.get(order_type)
    if kind is None:
        raise BadRequest(
            f"Unsupported orderType {order_type!r}; valid types: {', '.join(ORDER_KINDS)}"
        )
    if kind.family == "music":
        text, length = music.validate(stuff.text, stuff.length, "stuff.length")
        return Validated(kind.name, "", {"text": text, "length": length})
    path_key = (stuff.path_key or "").strip()
    if not path_key:
        raise BadRequest("pathKey is required")
    if kind.family == "transcription":
        language = (stuff.language or "auto").strip().lower()
        if not LANGUAGE.match(language):
            raise BadRequest(
                "language must be 'auto' or a language code such as 'en', 'zh' or 'zh-TW'"
            )
        return Validated(kind.name, path_key, {"language": language})
    fmt = stuff.format or "mp3"
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    options: dict[str, Any] = {"format": fmt}
    if kind.name == stem_names.ORDER_TYPE:
        options |= stem_names.order_options(ctx.settings, stuff.stem_name, "stuff.stemName")
    return Validated(kind.name, path_key, options)


def submit(
    ctx: Context,
    dispatcher: Dispatcher,
    account: Account,
    order_type: str | None,
    stuff: Stuff,
    *,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> Order:
    """Validate, create the order holding its price, and hand it to the queue."""
    wanted = validate(ctx, order_type, stuff)
    if wanted.order_type == music.ORDER_TYPE:
        order = music.create_task(
            ctx,
            account,
            wanted.options["text"],
            wanted.options["length"],
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    else:
        with ctx.db.write() as session:
            order = orders.create(
                session,
                ctx.settings,
                account,
                wanted.order_type,
                wanted.source,
                wanted.options,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
    dispatcher.dispatch(order.order_no)
    return order
