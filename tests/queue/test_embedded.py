"""The embedded queue with real worker processes: restarts, dead workers, exactly-once charging."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import LedgerEntry, Order
from yinzi.media import testing
from yinzi.queue.embedded import WorkerPool
from yinzi.services import billing, orders
from yinzi.settings import Price, Prices, Settings

from conftest import FileServer
from helpers import User, make_settings, new_user


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    prices = Prices(track_separation=Price(minimum=10, per_minute=20))
    return make_settings(tmp_path, lease_seconds=1.5, workers=1, prices=prices)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    context = Context.build(settings)
    yield context
    context.close()


def _order(ctx: Context, user: User, url: str) -> str:
    with ctx.db.write() as s:
        from yinzi.services import accounts

        account = accounts.find(s, user.email)
        order = orders.create(s, ctx.settings, account, "track-separation", url, {"format": "wav"})
        return order.order_no


def _wait_for(ctx: Context, order_no: str, statuses: tuple[str, ...], timeout: float) -> Order:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with ctx.db.read() as s:
            order = s.get(Order, order_no)
            assert order is not None
            if order.status in statuses:
                return order
        time.sleep(0.02)
    raise AssertionError(f"order {order_no} did not reach {statuses} in {timeout} s")


def test_pending_orders_run_when_workers_start(ctx: Context, file_server: FileServer) -> None:
    user = new_user(ctx)
    testing.song(file_server.root / "a.wav", seconds=2.0)
    order_no = _order(ctx, user, file_server.url("a.wav"))  # created while no worker runs
    pool = WorkerPool(ctx.settings)
    pool.start()
    try:
        order = _wait_for(ctx, order_no, ("finish", "failed"), 60)
    finally:
        pool.stop()
    assert order.status == "finish", order.reason


def test_a_killed_worker_order_is_rerun_once_and_charged_once(
    ctx: Context, file_server: FileServer
) -> None:
    user = new_user(ctx)
    testing.song(file_server.root / "long.wav", seconds=90.0)
    order_no = _order(ctx, user, file_server.url("long.wav"))
    pool = WorkerPool(ctx.settings)
    pool.start()
    try:
        _wait_for(ctx, order_no, ("processing",), 60)
        killed = pool.pids[0]
        os.kill(killed, signal.SIGKILL)
        order = _wait_for(ctx, order_no, ("finish", "failed"), 120)
        assert killed not in pool.pids  # the supervisor started a new worker
    finally:
        pool.stop()
    assert order.status == "finish", order.reason
    assert order.attempts == 2
    with ctx.db.read() as s:
        entries = s.execute(
            select(LedgerEntry.kind).where(LedgerEntry.order_no == order_no)
        ).scalars()
        # the minimum at create, the rest once the 90-s duration was known; one capture
        assert sorted(entries) == ["capture", "hold", "hold"]
        assert order.cost == 40
        assert billing.balance(s, user.id) == billing.BalanceView(1000 - order.cost, 0)
    stored = list((ctx.settings.data_dir / "files" / "results" / order_no).rglob("*.wav"))
    assert len(stored) == 2  # the dead run's partial results are not kept beside the final ones


def test_a_killed_attempts_scratch_folder_is_removed_when_the_order_is_reclaimed(
    ctx: Context, file_server: FileServer
) -> None:
    user = new_user(ctx)
    testing.song(file_server.root / "long.wav", seconds=90.0)
    order_no = _order(ctx, user, file_server.url("long.wav"))
    scratch = ctx.settings.data_dir / "tmp"
    pool = WorkerPool(ctx.settings)
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while not any(path.is_file() for path in scratch.rglob("*")):  # the input is arriving
            assert time.monotonic() < deadline, "the worker never wrote to its scratch folder"
            time.sleep(0.01)
        os.kill(pool.pids[0], signal.SIGKILL)
        order = _wait_for(ctx, order_no, ("finish", "failed"), 120)
    finally:
        pool.stop()
    assert order.status == "finish", order.reason
    assert order.attempts == 2
    assert list(scratch.iterdir()) == []  # neither the killed attempt's files nor the rerun's
