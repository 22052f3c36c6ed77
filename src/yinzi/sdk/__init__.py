"""A Python client for Yinzi servers, needing only httpx and the standard library.

```python
from yinzi.sdk import Client

with Client("http://localhost:8000", "sk-...") as yinzi:
    paths = yinzi.separate("song.mp3", dest="stems")
```

See docs/sdk.md. Importing this package never imports the server's dependencies.
"""

from __future__ import annotations

from yinzi.sdk._async import AsyncClient
from yinzi.sdk._client import Client
from yinzi.sdk.errors import (
    ApiError,
    AuthenticationError,
    ConnectionFailed,
    InsufficientCredits,
    NotFoundError,
    OrderFailed,
    RateLimited,
    WaitTimeout,
    YinziError,
)
from yinzi.sdk.models import Order, OrderFile, OrderPage, VideoInfo

__all__ = [
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConnectionFailed",
    "InsufficientCredits",
    "NotFoundError",
    "Order",
    "OrderFailed",
    "OrderFile",
    "OrderPage",
    "RateLimited",
    "VideoInfo",
    "WaitTimeout",
    "YinziError",
]
