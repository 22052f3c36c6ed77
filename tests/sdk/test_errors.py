"""Each dialect's error envelope becomes one SDK exception; 429s and lost connections are
retried where that is safe, and a retried create never charges twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sdk.conftest import Proxy, Server, ServerFactory
from sqlalchemy import select

from yinzi.db.models import Order
from yinzi.media import testing
from yinzi.sdk import (
    ApiError,
    AuthenticationError,
    Client,
    ConnectionFailed,
    InsufficientCredits,
    NotFoundError,
    RateLimited,
)


def test_a_bad_key_is_an_authentication_error_in_every_dialect(server: Server) -> None:
    with Client(server.url, "sk-wrong") as client:
        calls = (
            lambda: client.get("x"),
            client.balance,
            lambda: client.vocal_removal.record_info("x"),
            lambda: client.text_to_music.list(),
        )
        for call in calls:
            with pytest.raises(AuthenticationError) as refused:
                call()
            assert refused.value.status == 401


def test_unknown_orders_and_tasks_are_not_found(server: Server) -> None:
    with Client(server.url, server.user.key) as client:
        with pytest.raises(NotFoundError, match="Order not found") as open_api:
            client.get("nosuchorder")
        assert (open_api.value.status, open_api.value.code) == (400, 400)
        with pytest.raises(NotFoundError) as kie:
            client.vocal_removal.record_info("nosuchtask")
        assert kie.value.status == 404
        with pytest.raises(NotFoundError, match="task nosuchuid not found"):
            client.text_to_music.get("nosuchuid")


def test_an_empty_balance_is_insufficient_credits_in_every_dialect(
    server: Server, song: str
) -> None:
    broke = server.new_user(credits=0)
    with Client(server.url, broke.key) as client:
        with pytest.raises(InsufficientCredits, match="USER_BLANCE_NOT_ENOUGH"):
            client.create("track-separation", song)
        with pytest.raises(InsufficientCredits) as kie:
            client.vocal_removal.generate(audio_url=song, callback_url=f"{song}.hook")
        assert kie.value.status == 402
        with pytest.raises(InsufficientCredits):
            client.text_to_music.create("calm piano", 4)


def test_other_refusals_are_api_errors_naming_the_field(server: Server, song: str) -> None:
    with Client(server.url, server.user.key) as client:
        with pytest.raises(ApiError, match="pathKey is required") as open_api:
            client.create("track-separation", None)
        assert type(open_api.value) is ApiError and open_api.value.status == 400
        with pytest.raises(ApiError, match="callBackUrl is required") as kie:
            client.vocal_removal.generate(audio_url=song, callback_url="")
        assert kie.value.status == 422
        with pytest.raises(ApiError, match="text must contain only English letters"):
            client.text_to_music.create("piano!", 4)


def test_a_rate_limited_call_waits_for_retry_after_and_succeeds(
    yinzi_server: ServerFactory,
) -> None:
    server = yinzi_server(worker=False, rate_limit_per_minute=60)
    with Client(server.url, server.user.key, retries=0) as impatient:
        with pytest.raises(RateLimited) as limited:
            for _ in range(61):
                impatient.vocal_removal.credit()
        assert limited.value.retry_after == 1.0 and limited.value.status == 429
    with Client(server.url, server.user.key) as patient:
        started = time.monotonic()
        assert patient.vocal_removal.credit() == 1000
        assert time.monotonic() - started >= 0.5


def test_a_create_whose_answer_is_lost_is_retried_without_charging_twice(
    server: Server, proxy: Proxy, song: str
) -> None:
    with Client(proxy.url, server.user.key) as client:
        proxy.drop_responses = 1
        order = client.create("track-separation", song)
        assert proxy.dropped == 1
        assert client.balance() == 990  # one hold of 10, not two
    with server.ctx.db.read() as session:
        rows = session.execute(select(Order.order_no)).scalars().all()
    assert rows == [order.order_no]


def test_a_call_that_is_not_idempotent_is_not_retried(
    server: Server, proxy: Proxy, tmp_path: Path
) -> None:
    song = testing.song(tmp_path / "song.wav", seconds=1.0)
    with Client(proxy.url, server.user.key) as client:
        proxy.drop_responses = 1
        with pytest.raises(ConnectionFailed, match="file/upload"):
            client.upload(song)
        assert proxy.dropped == 1
        assert client.upload(song).startswith("uploads/")


def test_wait_rides_out_a_server_that_is_unreachable_for_a_while(
    server: Server, proxy: Proxy, song: str
) -> None:
    with Client(proxy.url, server.user.key, retries=1) as client:
        order = client.create("extract-voice", song)
        proxy.refuse(4)  # two polls, each tried twice (retries=1), refused
        done = client.wait(order.order_no, timeout=60, poll=0.2)
    assert done.ok and proxy.refused == 4


def test_an_unreachable_server_is_a_connection_failure() -> None:
    with Client("http://127.0.0.1:9", "sk-x", retries=1) as client:
        with pytest.raises(ConnectionFailed, match="order/query"):
            client.get("x")
