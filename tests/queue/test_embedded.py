"""The embedded queue with real worker processes: restarts, dead workers, exactly-once charging."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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


def _order(
    ctx: Context,
    user: User,
    url: str,
    order_type: str = "track-separation",
    callback_url: str | None = None,
) -> str:
    with ctx.db.write() as s:
        from yinzi.services import accounts

        account = accounts.find(s, user.email)
        order = orders.create(
            s, ctx.settings, account, order_type, url, {"format": "wav"}, callback_url=callback_url
        )
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


class _Mean(BaseHTTPRequestHandler):
    """A server that never finishes: GETs trickle a byte every half second, POSTs hang."""

    stop = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        while not self.stop.wait(0.5):
            self.wfile.write(b"x")
            self.wfile.flush()

    def do_POST(self) -> None:
        self.stop.wait(60)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def mean_server() -> Iterator[tuple[str, list[str]]]:
    """The server's base URL, and the paths of the POSTs it has received."""
    posts: list[str] = []

    class Handler(_Mean):
        stop = threading.Event()

        def do_POST(self) -> None:
            posts.append(self.path)
            super().do_POST()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", posts
    Handler.stop.set()
    httpd.shutdown()
    httpd.server_close()


def test_hanging_callbacks_and_trickling_inputs_do_not_delay_another_accounts_order(
    ctx: Context, file_server: FileServer, mean_server: tuple[str, list[str]]
) -> None:
    """A user whose callback receiver hangs and whose inputs trickle a byte at a time shares two
    workers with a second user, whose order still finishes within seconds."""
    mean, posts = mean_server
    ctx.settings.workers = 2
    testing.song(file_server.root / "a.wav", seconds=1.0)
    attacker, bystander = new_user(ctx), new_user(ctx)
    hooked = [
        _order(ctx, attacker, file_server.url("a.wav"), "separate_vocal", f"{mean}/hook/{i}")
        for i in range(4)
    ]
    pool = WorkerPool(ctx.settings)
    pool.start()
    try:
        for order_no in hooked:
            _wait_for(ctx, order_no, ("finish",), 60)
        deadline = time.monotonic() + 10
        while len(posts) < 2 and time.monotonic() < deadline:  # callbacks are hanging now
            time.sleep(0.05)
        assert posts
        trickling = [_order(ctx, attacker, f"{mean}/input-{i}.wav") for i in range(3)]
        _wait_for(ctx, trickling[0], ("processing",), 10)
        started = time.monotonic()
        order = _wait_for(ctx, _order(ctx, bystander, file_server.url("a.wav")), ("finish",), 8)
        waited = time.monotonic() - started
    finally:
        pool.stop()
    assert order.status == "finish" and waited < 8


def test_workers_run_at_the_configured_lower_priority(settings: Settings) -> None:
    pool = WorkerPool(settings.model_copy(update={"worker_nice": 7}), count=1)
    pool.start()
    try:
        pid = pool._procs[0].pid
        assert pid is not None
        deadline = time.monotonic() + 30
        while os.getpriority(os.PRIO_PROCESS, pid) != os.getpriority(os.PRIO_PROCESS, 0) + 7:
            assert time.monotonic() < deadline, "the worker never lowered its priority"
            time.sleep(0.05)
    finally:
        pool.stop()
