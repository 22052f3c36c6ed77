"""The SDK's exceptions: one hierarchy for every dialect's error envelope.

Each API answers errors in its own envelope (Open API ``{"code", "msg"}``, vocal removal
``{"code", "msg", "data": null}``, text to music ``{"statusCode", "message", "error"}``);
:func:`from_response` reads any of them into the class that says what went wrong. A class's
docstring is its default message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yinzi.sdk.models import Order

INSUFFICIENT_CREDITS_MSG = "ErrorCode.USER_BLANCE_NOT_ENOUGH"
"""The Open API's message for a balance that cannot cover an order (spelled as the API does)."""


class YinziError(Exception):
    """The Yinzi SDK failed"""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip().splitlines()[0]
        super().__init__(self.message)


class ApiError(YinziError):
    """The server refused the request"""

    def __init__(self, message: str, *, status: int, code: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        """The HTTP status of the answer."""
        self.code = code
        """The envelope's own code (``code`` or ``statusCode``), when it has one."""
        self.body = body
        """The decoded answer (or its text when it was not JSON)."""

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class AuthenticationError(ApiError):
    """The API key is missing, unknown or revoked"""


class NotFoundError(ApiError):
    """No such order or task (or it belongs to another account)"""


class InsufficientCredits(ApiError):
    """The account's balance cannot cover the order"""


class RateLimited(ApiError):
    """Too many requests; try again after ``retry_after`` seconds"""

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class OrderFailed(YinziError):
    """The order ended without results"""

    def __init__(self, order: Order) -> None:
        super().__init__(f"order {order.order_no} {order.status}: {order.reason or 'no reason'}")
        self.order = order


class WaitTimeout(YinziError):
    """The order did not end in the time allowed"""

    def __init__(self, order_no: str, seconds: float, order: Order | None = None) -> None:
        super().__init__(f"order {order_no} did not end within {seconds:g} s")
        self.order = order
        """The order as last seen (``None`` when the server never answered)."""


class ConnectionFailed(YinziError):
    """The server could not be reached"""


def from_response(status: int, body: Any, retry_after: float | None = None) -> ApiError:
    """The exception for an error answer in any dialect's envelope (or none)."""
    code, message = _envelope(status, body)
    kwargs: dict[str, Any] = {"status": status, "code": code, "body": body}
    effective = code if code in (401, 402, 404, 429) else status
    if effective == 429 or status == 429:
        return RateLimited(message, retry_after=retry_after or 1.0, **kwargs)
    if effective == 401:
        return AuthenticationError(message, **kwargs)
    if effective == 402 or message == INSUFFICIENT_CREDITS_MSG:
        return InsufficientCredits(message, **kwargs)
    if effective == 404 or message == "Order not found":
        return NotFoundError(message, **kwargs)
    return ApiError(message, **kwargs)


def _envelope(status: int, body: Any) -> tuple[int | None, str]:
    """``(code, message)`` of an error body: Open API and Kie ``code``/``msg``, Yating
    ``statusCode``/``message`` (a string or a list), or the text of a body that is not JSON."""
    if isinstance(body, dict):
        code = body.get("code", body.get("statusCode"))
        message = body.get("msg", body.get("message"))
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        return (code if isinstance(code, int) else None), str(message or f"HTTP {status}")
    text = str(body or "").strip()
    return None, text[:200] or f"HTTP {status}"
