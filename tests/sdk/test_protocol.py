"""Reading answers without a server: envelopes, Retry-After and the retry rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from yinzi import __version__
from yinzi.sdk import (
    ApiError,
    AuthenticationError,
    Client,
    ConnectionFailed,
    NotFoundError,
    RateLimited,
)
from yinzi.sdk._protocol import Call, Dialect, Sleep, payload, retry_after, send
from yinzi.sdk.errors import InsufficientCredits


def answer(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_each_dialect_unwraps_its_success_envelope() -> None:
    body = {"code": 0, "data": {"a": 1}, "msg": "success"}
    assert payload(Dialect.OPEN, answer(200, body)) == {"a": 1}
    assert payload(Dialect.KIE, answer(200, {"code": 200, "data": 7, "msg": "success"})) == 7
    assert payload(Dialect.YATING, answer(201, {"uid": "u"})) == {"uid": "u"}


@pytest.mark.parametrize(
    ("dialect", "status", "body", "error", "message"),
    [
        (Dialect.OPEN, 401, {"code": 401, "msg": "Invalid API Key"}, AuthenticationError, None),
        (Dialect.OPEN, 400, {"code": 400, "msg": "Order not found"}, NotFoundError, None),
        (
            Dialect.OPEN,
            400,
            {"code": 400, "msg": "ErrorCode.USER_BLANCE_NOT_ENOUGH"},
            InsufficientCredits,
            None,
        ),
        (Dialect.KIE, 402, {"code": 402, "msg": "no", "data": None}, InsufficientCredits, None),
        (Dialect.KIE, 404, {"code": 404, "msg": "no", "data": None}, NotFoundError, None),
        (
            Dialect.YATING,
            400,
            {"statusCode": 400, "message": ["a bad", "b bad"], "error": "Bad Request"},
            ApiError,
            "a bad; b bad",
        ),
        (Dialect.OPEN, 502, "<html>bad gateway</html>", ApiError, "<html>bad gateway</html>"),
    ],
)
def test_each_error_envelope_becomes_its_exception(
    dialect: Dialect, status: int, body: Any, error: type[ApiError], message: str | None
) -> None:
    response = httpx.Response(status, text=body) if isinstance(body, str) else answer(status, body)
    with pytest.raises(error) as raised:
        payload(dialect, response)
    assert type(raised.value) is error and raised.value.status == status
    assert raised.value.message == (message or body["msg"])


def test_an_open_api_answer_with_a_nonzero_code_is_an_error_even_with_http_200() -> None:
    with pytest.raises(ApiError):
        payload(Dialect.OPEN, answer(200, {"code": 500, "msg": "x", "data": None}))


def test_retry_after_reads_seconds_and_dates_and_is_capped() -> None:
    assert retry_after(answer(429, {}, **{"Retry-After": "3"})) == 3.0
    assert retry_after(answer(429, {}, **{"Retry-After": "86400"})) == 120.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after(answer(429, {}, **{"Retry-After": later})) or 0) <= 30
    assert retry_after(answer(429, {})) is None


def drive(call: Call, outcomes: list[Any], retries: int = 3) -> tuple[Any, list[float]]:
    """Run :func:`send` on scripted outcomes; returns its result and the sleeps it asked for."""
    steps, sleeps = send(call, retries), []
    try:
        step = next(steps)
        while True:
            if isinstance(step, Sleep):
                sleeps.append(step.seconds)
                step = steps.send(None)
            else:
                step = steps.send(outcomes.pop(0))
    except StopIteration as done:
        return done.value, sleeps


OK = answer(200, {"code": 0, "data": "done", "msg": "success"})
LIMITED = answer(429, {"code": 429, "msg": "slow down"}, **{"Retry-After": "2"})
LOST = httpx.ReadError("connection reset")


def test_a_429_is_retried_after_retry_after_then_raised_when_retries_run_out() -> None:
    assert drive(Call("POST", "/x"), [LIMITED, OK]) == ("done", [2.0])
    with pytest.raises(RateLimited):
        drive(Call("POST", "/x"), [LIMITED, LIMITED], retries=1)


def test_a_lost_connection_is_retried_only_when_safe() -> None:
    assert drive(Call("GET", "/x", idempotent=True), [LOST, LOST, OK]) == ("done", [0.5, 1.0])
    assert drive(Call("POST", "/x"), [httpx.ConnectError("refused"), OK])[0] == "done"
    with pytest.raises(ConnectionFailed, match="POST /x: connection reset"):
        drive(Call("POST", "/x"), [LOST, OK])


def test_the_clients_name_themselves() -> None:
    with Client("http://127.0.0.1:9", "sk-x") as client:
        assert client._http.headers["User-Agent"] == f"yinzi-sdk/{__version__}"
