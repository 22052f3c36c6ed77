"""The Celery app of :func:`yinzi.queue.celery.make_app`: one process may build several (an API
process's dispatcher, a worker and its reaper, a test's worker), and each app's task runs orders
with that app's own settings."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import Order
from yinzi.services import accounts, orders
from yinzi.settings import CelerySettings

from cluster.processes import RedisServer
from helpers import make_settings, new_user


def test_each_app_runs_orders_with_its_own_settings(tmp_path: Path) -> None:
    pytest.importorskip("celery")
    from yinzi.queue.celery import TASK_NAME, make_app

    first = make_app(make_settings(tmp_path / "first", queue="celery"))
    assert first.tasks[TASK_NAME]  # registered before the second app exists
    settings = make_settings(tmp_path / "second", queue="celery")
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    second = make_app(settings)
    try:
        user = new_user(ctx)
        with ctx.db.write() as session:
            account = accounts.find(session, user.email)
            order = orders.create(
                session, settings, account, "track-separation", "http://127.0.0.1:9/a.wav", {}
            )
            order_no = order.order_no
        assert second.tasks[TASK_NAME](order_no) is True  # it found the order in its database
        with ctx.db.read() as session:
            ended = session.get(Order, order_no)
            assert ended is not None and ended.status == "failed"
    finally:
        first.close()
        second.close()
        ctx.close()


def test_a_worker_stops_its_reaper_on_a_cold_shutdown(tmp_path: Path) -> None:
    """A cold shutdown (``terminate``: a second Ctrl-C, SIGQUIT, or an in-process worker
    stopped) ends the reaper and its callback loop like a warm one does."""
    pytest.importorskip("celery")
    from celery.contrib.testing.worker import start_worker

    from yinzi.queue.celery import make_app

    redis = RedisServer(tmp_path / "redis")
    redis.start()
    settings = make_settings(tmp_path, queue="celery", celery=CelerySettings(broker_url=redis.url))
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    app = make_app(settings)
    app.conf.worker_hijack_root_logger = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            assert "yinzi-reaper" in _threads()
        deadline = time.monotonic() + 10
        while {"yinzi-reaper", "callbacks"} & _threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not {"yinzi-reaper", "callbacks"} & _threads()
    finally:
        app.close()
        redis.stop()


def _threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()}
