"""Callbacks: the renderer table, and a delivery loop of their own with bounded concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.dialects import register_callbacks
from yinzi.errors import ConfigurationError
from yinzi.services import accounts, callbacks, orders

from helpers import User, new_user


class HeldReceiver:
    """A callback receiver on loopback that holds every request until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.answered = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                receiver.release.wait(20)
                with lock:
                    receiver.in_flight -= 1
                    receiver.answered += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[HeldReceiver]:
    held = HeldReceiver()
    yield held
    held.close()


def _ended_with_callback(ctx: Context, user: User, url: str, order_type: str) -> str:
    """An order of ``order_type`` that has failed, so its callback to ``url`` is due."""
    with ctx.db.write() as s:
        account = accounts.find(s, user.email)
        source = "https://example.com/a.mp3"
        order = orders.create(s, ctx.settings, account, order_type, source, {}, callback_url=url)
    claimed = orders.claim(ctx.db, ctx.settings, order.order_no)
    assert claimed is not None
    orders.fail(ctx.db, order.order_no, claimed[1], "the input could not be fetched")
    return order.order_no


def _states(ctx: Context) -> list[str | None]:
    with ctx.db.read() as s:
        return list(s.execute(select(Order.callback_state).order_by(Order.created_at)).scalars())


def _wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def test_deliveries_run_on_a_loop_of_their_own_at_most_concurrency_at_once(
    ctx: Context, user: User, receiver: HeldReceiver
) -> None:
    register_callbacks()
    ctx.settings.callback_concurrency = 2
    for _ in range(5):
        _ended_with_callback(ctx, user, receiver.url, "separate_vocal")
    loop = callbacks.DeliveryLoop(ctx)
    loop.start()
    try:
        _wait(lambda: receiver.in_flight == 2, 5)  # two held at the receiver...
        time.sleep(0.3)
        assert receiver.most_in_flight == 2  # ...and no third started beside them
        receiver.release.set()
        _wait(lambda: _states(ctx) == ["delivered"] * 5, 10)
    finally:
        loop.stop()
    assert receiver.most_in_flight == 2 and receiver.answered == 5


def test_callbacks_of_a_type_without_a_renderer_are_left_alone(
    ctx: Context, user: User, receiver: HeldReceiver
) -> None:
    register_callbacks()
    order_no = _ended_with_callback(ctx, user, receiver.url, "extract-voice")
    receiver.release.set()
    assert callbacks.deliver_due(ctx) == 0
    with ctx.db.read() as s:
        order = s.get(Order, order_no)
        assert order is not None
        assert (order.callback_state, order.callback_attempts) == ("pending", 0)


def test_registering_is_repeatable_but_a_second_renderer_for_a_type_is_refused() -> None:
    register_callbacks()
    register_callbacks()  # the app and a worker in one process both register

    def other(ctx: Context, order: Order) -> dict[str, Any]:
        return {}

    with pytest.raises(ConfigurationError, match="separate_vocal"):
        callbacks.register_renderer(["separate_vocal"], other)


def test_a_hanging_receiver_does_not_hold_up_the_worker_loop(
    ctx: Context, user: User, receiver: HeldReceiver
) -> None:
    from yinzi.queue.embedded import Worker

    register_callbacks()
    _ended_with_callback(ctx, user, receiver.url, "separate_vocal")
    worker = Worker(ctx.settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        _wait(lambda: receiver.in_flight == 1, 5)
        other = new_user(ctx)
        with ctx.db.write() as s:
            account = accounts.find(s, other.email)
            unreachable = "http://127.0.0.1:9/a.mp3"  # fails at once: nothing listens there
            order = orders.create(s, ctx.settings, account, "extract-voice", unreachable, {})
        _wait(lambda: _status(ctx, order.order_no) == "failed", 5)
    finally:
        receiver.release.set()
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


def _status(ctx: Context, order_no: str) -> str:
    with ctx.db.read() as s:
        order = s.get(Order, order_no)
        assert order is not None
        return order.status
