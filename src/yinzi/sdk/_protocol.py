"""The SDK's calls written once, free of I/O, for the sync and the async client alike.

Every operation is a generator that yields *steps* (:class:`Call`, :class:`Sleep`,
:class:`Fetch`) and receives each step's outcome; :class:`~yinzi.sdk.Client` drives it with
blocking I/O and :class:`~yinzi.sdk.AsyncClient` with ``await``. Retries, error parsing, polling
and backoff therefore live here only.

Retry rules: a 429 is retried after its ``Retry-After``; a connection error is retried when the
call is idempotent (GET, and creates, which carry an ``Idempotency-Key`` that every retry
reuses) or when the connection was never made, so the request cannot have arrived.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import httpx

from yinzi import __version__
from yinzi.sdk.errors import ApiError, ConnectionFailed, RateLimited, from_response

T = TypeVar("T")


class Dialect(Enum):
    OPEN = "open"  # {"code": 0, "data", "msg"}, Bearer key
    KIE = "kie"  # {"code": 200, "data", "msg"}, Bearer key
    YATING = "yating"  # the resource itself, ``key`` header


@dataclass(frozen=True)
class Call:
    """One HTTP request to the API; its outcome is the ``httpx.Response`` or the
    ``httpx.TransportError`` that stopped it."""

    method: str
    path: str
    dialect: Dialect = Dialect.OPEN
    params: dict[str, Any] | None = None
    json: Any = None
    upload: Path | None = None
    """A file sent as the multipart field ``file``."""
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = False


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds; no outcome."""

    seconds: float


@dataclass(frozen=True)
class Fetch:
    """Download ``url`` (absolute) into ``dest``; the outcome is ``dest``."""

    url: str
    dest: Path


Step = Call | Sleep | Fetch
Steps = Generator[Step, Any, T]

USER_AGENT = f"yinzi-sdk/{__version__}"
BACKOFF_START = 0.5
BACKOFF_MAX = 8.0
MAX_RETRY_AFTER = 120.0


def auth_headers(dialect: Dialect, api_key: str) -> dict[str, str]:
    """How each dialect takes the API key."""
    if dialect is Dialect.YATING:
        return {"key": api_key}
    return {"Authorization": f"Bearer {api_key}"}


def send(call: Call, retries: int) -> Steps[Any]:
    """Make ``call``, retrying as the module describes; returns the answer's payload (the
    envelope's ``data``, or the whole body for the text-to-music API)."""
    attempt = 0
    while True:
        outcome = yield call
        if isinstance(outcome, httpx.TransportError):
            never_sent = isinstance(outcome, httpx.ConnectError)
            if attempt >= retries or not (call.idempotent or never_sent):
                raise ConnectionFailed(f"{call.method} {call.path}: {_describe(outcome)}") from (
                    outcome
                )
            yield Sleep(min(BACKOFF_MAX, BACKOFF_START * 2**attempt))
        else:
            try:
                return payload(call.dialect, outcome)
            except RateLimited as exc:
                if attempt >= retries:
                    raise
                yield Sleep(exc.retry_after)
        attempt += 1


def payload(dialect: Dialect, response: httpx.Response) -> Any:
    """The answer's payload, or the :class:`~yinzi.sdk.errors.ApiError` its envelope holds."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if dialect is Dialect.YATING:
        if response.is_success:
            return body
    else:
        success = 0 if dialect is Dialect.OPEN else 200
        if response.is_success and isinstance(body, dict) and body.get("code") == success:
            return body.get("data")
    raise from_response(response.status_code, body, retry_after(response))


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), capped; ``None`` when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from datetime import UTC, datetime

        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, min(MAX_RETRY_AFTER, seconds))


def fetch_failed(url: str, response: httpx.Response) -> ApiError:
    """The error for a download link that did not answer the file."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    error = from_response(response.status_code, body)
    error.message = f"download {url.split('?', 1)[0]}: {error.message}"
    return error


def _describe(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__
