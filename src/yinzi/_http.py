"""The HTTP protocol ``yinzi serve`` runs: uvicorn's httptools protocol with two guards added.

- **Header timeout.** A request's line and headers must arrive in full within
  ``header_timeout`` seconds, counted from the moment the connection opens or the previous
  response ends. uvicorn itself only times out a connection that is idle between requests: one
  byte of a request head cancels that timer, so a client that trickles a header line now and then
  would otherwise hold its connection for ever. A connection over time is closed.
- **Connection cap.** Beyond ``limit_concurrency`` open connections, a new one is answered 503
  and closed at once, so idle connections cannot use up the process's file descriptors.
  (uvicorn's own ``limit_concurrency`` check answers 503 to requests, but only once a request
  head has arrived, and keeps the connection.)

Everything else, keep-alive included, is uvicorn's (``Config(timeout_keep_alive=...)``).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 19\r\nconnection: close\r\n\r\nService Unavailable"
)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and a connection cap (see module)."""

    header_timeout: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.limit_concurrency is not None and len(self.connections) > self.limit_concurrency:
            log.warning("over %d open connections; refusing a new one", self.limit_concurrency)
            transport.write(_BUSY)
            transport.close()
            return
        self._expect_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._forget_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # idle again: the next head has a deadline
            self._expect_head()

    def _expect_head(self) -> None:
        self._forget_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _forget_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol(header_timeout: float) -> type[GuardedHttpProtocol]:
    """The protocol class to give ``uvicorn.Config(http=...)`` for this header timeout."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"header_timeout": header_timeout})
