"""The Celery reaper: which orders it sends again, and that several reapers send one order once
per period (real Redis, a database number of its own; no worker consumes the messages)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from yinzi.context import Context
from yinzi.db import utcnow
from yinzi.db.migrate import upgrade
from yinzi.db.models import Order
from yinzi.services import accounts, orders
from yinzi.settings import CelerySettings, Settings

from helpers import make_settings, new_user

BROKER = f"redis://127.0.0.1:6379/{int(os.environ.get('YINZI_TEST_REDIS_DB', '13')) + 2}"


@pytest.fixture
def redis_client() -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    pytest.importorskip("celery")
    client = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis at {BROKER}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    celery = CelerySettings(broker_url=BROKER, lost_after_seconds=60.0)
    return make_settings(tmp_path, queue="celery", celery=celery, max_attempts=3)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    context = Context.build(settings)
    yield context
    context.close()


def _order(ctx: Context, email: str, **values: Any) -> str:
    with ctx.db.write() as s:
        account = accounts.find(s, email)
        order_no = orders.create(s, ctx.settings, account, "extract-voice", "", {}).order_no
        if values:
            s.execute(update(Order).where(Order.order_no == order_no).values(**values))
    return order_no


def _queued(client: Any, queue: str) -> int:
    return int(client.llen(queue))


def test_the_reaper_sends_stranded_orders_again_once_per_period(
    ctx: Context, settings: Settings, redis_client: Any
) -> None:
    from yinzi.queue.reaper import Reaper

    email = new_user(ctx).email
    old = utcnow() - timedelta(seconds=120)
    lost = _order(ctx, email, created_at=old)
    _order(ctx, email)  # pending, but its message may still be on its way
    dead = _order(
        ctx, email, status="processing", lease_until=utcnow() - timedelta(seconds=1), attempts=1
    )
    _order(ctx, email, status="processing", lease_until=utcnow() + timedelta(seconds=30))
    _order(ctx, email, created_at=old, attempts=3)  # out of attempts: expired, not sent
    first, second = Reaper(settings), Reaper(settings)
    try:
        assert {no for no, _ in first.stranded()} == {lost, dead}
        assert first.reap() == 2
        assert second.reap() == 0  # the first reaper sent them a moment ago
        assert _queued(redis_client, "cpu") == 2
    finally:
        first.stop()
        second.stop()


def test_a_stranded_order_goes_back_to_its_own_queue(
    ctx: Context, settings: Settings, redis_client: Any
) -> None:
    from yinzi.queue.reaper import Reaper

    email = new_user(ctx).email
    order_no = _order(ctx, email, created_at=utcnow() - timedelta(seconds=120), queue="gpu")
    reaper = Reaper(settings)
    try:
        assert reaper.reap() == 1
    finally:
        reaper.stop()
    assert _queued(redis_client, "gpu") == 1
    assert _queued(redis_client, "cpu") == 0
    with ctx.db.read() as s:
        assert s.get(Order, order_no) is not None


def _send(reaper: Any, order_no: str, queue: str = "cpu") -> None:
    assert reaper.dispatcher.send(order_no, queue)


def test_a_backlog_waiting_in_its_queue_is_not_sent_again_and_a_dropped_message_is_sent_once(
    ctx: Context, settings: Settings, redis_client: Any
) -> None:
    from yinzi.queue.reaper import SENT_PREFIX, Reaper

    email = new_user(ctx).email
    old = utcnow() - timedelta(seconds=120)
    backlog = [_order(ctx, email, created_at=old) for _ in range(5)]
    dropped = _order(ctx, email, created_at=old)
    reaper = Reaper(settings)
    try:
        for order_no in [*backlog, dropped]:
            _send(reaper, order_no)
        assert redis_client.lrem("cpu", 1, redis_client.lindex("cpu", 0)) == 1  # the broker lost it
        assert _queued(redis_client, "cpu") == 5
        assert reaper.reap() == 1
        assert _queued(redis_client, "cpu") == 6
        assert dropped in reaper.on_their_way(["cpu"])
        redis_client.delete(*redis_client.keys(SENT_PREFIX + "*"))  # a period later
        assert reaper.reap() == 0
        assert _queued(redis_client, "cpu") == 6
        assert reaper.on_their_way(["cpu"]) == {*backlog, dropped}
    finally:
        reaper.stop()


def _receive_and_die(broker: str, queue: str) -> None:
    """A consumer that takes one message from ``queue`` and dies without acknowledging it."""
    code = (
        "import os, kombu\n"
        f"with kombu.Connection({broker!r}) as conn:\n"
        f"    message = conn.SimpleQueue({queue!r}).get(timeout=10)\n"
        "    os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_message_a_dead_worker_received_counts_as_missing_once_it_is_old(
    ctx: Context, settings: Settings, redis_client: Any
) -> None:
    from yinzi.queue.reaper import SENT_PREFIX, Reaper

    quick = settings.model_copy(
        update={"celery": settings.celery.model_copy(update={"lost_after_seconds": 1.0})}
    )
    email = new_user(ctx).email
    order_no = _order(ctx, email, created_at=utcnow() - timedelta(seconds=120))
    reaper = Reaper(quick)
    try:
        _send(reaper, order_no)
        _receive_and_die(BROKER, "cpu")
        assert _queued(redis_client, "cpu") == 0
        assert redis_client.hlen("unacked") == 1
        assert reaper.reap() == 0  # received a moment ago: its worker may be claiming it
        time.sleep(1.2)
        redis_client.delete(SENT_PREFIX + order_no)
        assert reaper.reap() == 1
        assert _queued(redis_client, "cpu") == 1
    finally:
        reaper.stop()
