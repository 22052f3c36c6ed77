"""What an order costs, before it is made: the formula of each type and, once the input's
duration (or the music's length) is known, the exact credits.

A quote is computed by the same :class:`~yinzi.settings.Price` methods the order's hold and
capture use (``orders.create``, ``orders.set_duration``, ``orders.finish``), so the credits
quoted for a known duration are the credits the order holds once that duration is measured and
captures when it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from yinzi.services import music
from yinzi.services.orders import ORDER_KINDS
from yinzi.settings import Settings

ANALYZE = "short-video-analyze"
"""Not an order: a real-time call charged at once (see :mod:`yinzi.services.analyze`)."""
ORDER_TYPES = (*ORDER_KINDS, ANALYZE)


@dataclass(frozen=True)
class Quote:
    """``credits`` is None until the duration (or, for music, the length) is known; then it is
    exact. The formula: ``fixed`` credits, or ``per_bar`` * bars, or
    ``max(minimum, per_minute * started minutes)``."""

    order_type: str
    minimum: int = 0
    per_minute: int = 0
    per_bar: int = 0
    fixed: int | None = None
    credits: int | None = None


def quote(
    settings: Settings,
    order_type: str,
    *,
    seconds: float | None = None,
    length: int | None = None,
) -> Quote:
    """The price of ``order_type`` for an input of ``seconds`` (or music of ``length`` bars)."""
    if order_type == ANALYZE:
        fixed = settings.prices.short_video_analyze
        return Quote(order_type, fixed=fixed, credits=fixed)
    if order_type == music.ORDER_TYPE:
        per_bar = settings.prices.text_to_music.per_bar
        credits = per_bar * length if length is not None else None
        return Quote(order_type, per_bar=per_bar, credits=credits)
    if order_type not in ORDER_KINDS:
        raise ValueError(f"unknown order type {order_type!r}")
    price = settings.prices.for_type(order_type)
    return Quote(
        order_type,
        minimum=price.minimum,
        per_minute=price.per_minute,
        credits=price.for_duration(seconds) if seconds is not None else None,
    )


def quotes(settings: Settings, *, seconds: float | None = None) -> dict[str, Quote]:
    """Every type's quote for an input of ``seconds``."""
    return {name: quote(settings, name, seconds=seconds) for name in ORDER_TYPES}
