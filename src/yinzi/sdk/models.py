"""Typed results of the SDK's calls, read from the Open API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENDED = ("finish", "failed", "timeout")
"""Order statuses that never change again."""


@dataclass(frozen=True)
class OrderFile:
    """One result file of an order. ``url`` is a signed download link (``None`` in lists)."""

    name: str
    business: str
    url: str | None = None


@dataclass(frozen=True)
class Order:
    """An order as the server last reported it."""

    order_no: str
    order_type: str
    status: str
    cost: int = 0
    reason: str | None = None
    progress: int | None = None
    """0 to 100, never going back (``None`` from a server that does not report it)."""
    stage: str | None = None
    """``queued``, ``fetching``, ``decoding``, ``separating``, ``transcribing``, ``composing``,
    ``encoding``, ``storing``, or ``done`` once ended."""
    queue_position: int | None = None
    """While pending: 1 means next to run."""
    message_id: str | None = None
    files: list[OrderFile] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Whether the order has ended (finished, failed or timed out)."""
        return self.status in ENDED

    @property
    def ok(self) -> bool:
        """Whether the order finished with results."""
        return self.status == "finish"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Order:
        """An order from ``order/query``, ``order/list`` items or ``order/create``'s answer."""
        return cls(
            order_no=str(data["orderNo"]),
            order_type=str(data.get("orderType") or ""),
            status=str(data.get("status") or data.get("orderStatus") or ""),
            cost=int(data.get("cost") or 0),
            reason=data.get("reason"),
            progress=data.get("progress"),
            stage=data.get("stage"),
            queue_position=data.get("queuePosition"),
            message_id=data.get("messageId"),
            files=[
                OrderFile(str(s["name"]), str(s["business"]), s.get("url"))
                for s in data.get("stuffs") or []
            ],
        )


@dataclass(frozen=True)
class OrderPage:
    """One page of ``order/list``: newest orders first."""

    items: list[Order]
    page: int
    per_page: int
    total: int
    next_page: int | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> OrderPage:
        return cls(
            items=[Order.from_api(item) for item in data.get("items") or []],
            page=int(data.get("page") or 1),
            per_page=int(data.get("perPage") or 0),
            total=int(data.get("total") or 0),
            next_page=data.get("nextPage"),
        )


@dataclass(frozen=True)
class VideoInfo:
    """What ``short-video/analyze`` found behind a share link."""

    title: str | None
    author: str | None
    cover: str | None
    video_url: str | None
    music_url: str | None
    balance: int | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> VideoInfo:
        return cls(
            title=data.get("title"),
            author=data.get("author"),
            cover=data.get("cover"),
            video_url=data.get("videoUrl"),
            music_url=data.get("musicUrl"),
            balance=data.get("balance"),
        )
