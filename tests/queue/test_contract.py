"""One contract for every queue backend (embedded worker processes and Celery over Redis).

Whatever the queue does with its messages, an order runs to its end once and is charged once:
dispatched orders run, a doubled message runs nothing twice, a lost message is recovered, a
worker killed mid-order leaves an order that another worker finishes, and a worker takes only
the orders of its queues. Celery workers are real ``celery worker`` subprocesses on the local
Redis, a database number of their own flushed for each test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.db.models import LedgerEntry, Order
from yinzi.media import testing
from yinzi.queue.base import Dispatcher
from yinzi.queue.embedded import EmbeddedDispatcher, Worker, WorkerPool
from yinzi.runner import run_order
from yinzi.services import accounts, orders
from yinzi.settings import CelerySettings, Price, Prices, Settings

from conftest import FileServer
from helpers import User, make_settings, new_user

REDIS_DB = int(os.environ.get("YINZI_TEST_REDIS_DB", "13"))
BROKER = f"redis://127.0.0.1:6379/{REDIS_DB}"


class EmbeddedBackend:
    """Worker pools of the embedded queue; a killed worker is restarted by its pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pools: list[WorkerPool] = []

    def dispatcher(self, ctx: Context) -> Dispatcher:
        return EmbeddedDispatcher()

    def start_worker(self, queues: list[str]) -> None:
        pool = WorkerPool(self.settings.model_copy(update={"worker_queues": queues}), 1)
        pool.start()
        self.pools.append(pool)

    def assert_refused_and_retried(self) -> None:
        """Nothing to see: refused orders stay in the table, polled by every idle worker."""

    def kill_worker(self) -> int:
        pid = self.pools[0].pids[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        for pool in self.pools:
            pool.stop()


class CeleryBackend:
    """``celery worker`` subprocesses (solo pool: the task runs in the process that is killed);
    a killed worker is started again, as a service manager would."""

    def __init__(self, settings: Settings, logs: Path, command: list[str] | None = None) -> None:
        self.settings = settings
        self.logs = logs
        self.command = command
        self.procs: list[tuple[subprocess.Popen[bytes], list[str]]] = []

    def dispatcher(self, ctx: Context) -> Dispatcher:
        from yinzi.queue.celery import CeleryDispatcher

        return CeleryDispatcher(self.settings, ctx.db)

    def _env(self, queues: list[str]) -> dict[str, str]:
        s = self.settings
        price = s.prices.track_separation
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "YINZI_DATA_DIR": str(s.data_dir),
            "YINZI_PUBLIC_URL": s.base_url,
            "YINZI_QUEUE": "celery",
            "YINZI_CELERY__BROKER_URL": s.celery.broker_url,
            "YINZI_CELERY__REAP_INTERVAL_SECONDS": str(s.celery.reap_interval_seconds),
            "YINZI_CELERY__LOST_AFTER_SECONDS": str(s.celery.lost_after_seconds),
            "YINZI_LEASE_SECONDS": str(s.lease_seconds),
            "YINZI_WORKERS": "1",
            "YINZI_WORKER_QUEUES": json.dumps(queues),
            "YINZI_FETCH__ALLOW_PRIVATE": "true",
            "YINZI_PRICES__TRACK_SEPARATION__MINIMUM": str(price.minimum),
            "YINZI_PRICES__TRACK_SEPARATION__PER_MINUTE": str(price.per_minute),
        }

    def start_worker(self, queues: list[str]) -> None:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        command = [sys.executable, "-m", "celery", "-A", "yinzi.queue.celery", "worker"]
        command += ["-Q", ",".join(queues), "--pool=solo", "--loglevel=INFO", "--without-gossip"]
        if self.command is not None:
            command = [*self.command, "--queues", ",".join(queues)]
        proc = subprocess.Popen(
            command, env=self._env(queues), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.procs.append((proc, queues))

    def assert_refused_and_retried(self) -> None:
        """A worker's log shows an order refused and sent again with a countdown."""
        logs = "".join(path.read_text(errors="replace") for path in self.logs.glob("worker-*.log"))
        assert "retry: Retry in" in logs, logs[-3000:]

    def kill_worker(self) -> int:
        proc, queues = self.procs[0]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.start_worker(queues)
        return proc.pid

    def stop(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _redis_or_skip() -> Any:
    redis = pytest.importorskip("redis")
    pytest.importorskip("celery")
    client = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis at {BROKER}: {exc}")
    return client


class QueueContract:
    backend_name: ClassVar[str]

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        prices = Prices(track_separation=Price(minimum=10, per_minute=20))
        celery = CelerySettings(
            broker_url=BROKER, reap_interval_seconds=0.5, lost_after_seconds=2.0
        )
        return make_settings(
            tmp_path,
            lease_seconds=1.5,
            workers=1,
            prices=prices,
            queue=self.backend_name,
            celery=celery,
        )

    @pytest.fixture
    def ctx(self, settings: Settings) -> Iterator[Context]:
        settings.data_dir.mkdir(parents=True)
        upgrade(settings.db_url)
        context = Context.build(settings)
        yield context
        context.close()

    @pytest.fixture
    def backend(self, settings: Settings, tmp_path: Path) -> Iterator[Any]:
        if self.backend_name == "embedded":
            embedded = EmbeddedBackend(settings)
            yield embedded
            embedded.stop()
            return
        client = _redis_or_skip()
        client.flushdb()
        celery = CeleryBackend(settings, tmp_path)
        yield celery
        celery.stop()
        client.flushdb()
        client.close()

    @pytest.fixture
    def user(self, ctx: Context) -> User:
        return new_user(ctx)

    @pytest.fixture
    def dispatcher(self, backend: Any, ctx: Context) -> Iterator[Dispatcher]:
        dispatcher = backend.dispatcher(ctx)
        yield dispatcher
        close = getattr(dispatcher, "close", None)
        if close is not None:
            close()

    def test_dispatched_orders_run_exactly_once(
        self,
        ctx: Context,
        user: User,
        backend: Any,
        dispatcher: Dispatcher,
        file_server: FileServer,
    ) -> None:
        numbers = [_order(ctx, user, _song(file_server, f"s{i}.wav", 2.0)) for i in range(3)]
        backend.start_worker(["cpu"])
        for order_no in numbers:
            dispatcher.dispatch(order_no)
        for order_no in numbers:
            order = _wait_for(ctx, order_no, ("finish", "failed", "timeout"), 120)
            assert order.status == "finish", order.reason
            assert order.attempts == 1
            _assert_charged_once(ctx, order)

    def test_a_doubled_message_runs_the_order_once(
        self,
        ctx: Context,
        user: User,
        backend: Any,
        dispatcher: Dispatcher,
        file_server: FileServer,
    ) -> None:
        order_no = _order(ctx, user, _song(file_server, "a.wav", 2.0))
        dispatcher.dispatch(order_no)
        dispatcher.dispatch(order_no)
        backend.start_worker(["cpu"])
        order = _wait_for(ctx, order_no, ("finish", "failed", "timeout"), 120)
        assert order.status == "finish", order.reason
        time.sleep(1.0)  # the second message reaches a worker, which finds nothing to claim
        order = _wait_for(ctx, order_no, ("finish",), 1)
        assert order.attempts == 1
        _assert_charged_once(ctx, order)

    def test_a_lost_message_is_recovered(
        self, ctx: Context, user: User, backend: Any, file_server: FileServer
    ) -> None:
        order_no = _order(ctx, user, _song(file_server, "a.wav", 2.0))  # never dispatched
        backend.start_worker(["cpu"])
        order = _wait_for(ctx, order_no, ("finish", "failed", "timeout"), 120)
        assert order.status == "finish", order.reason
        assert order.attempts == 1
        _assert_charged_once(ctx, order)

    def test_a_worker_killed_mid_order_leaves_it_finished_once_and_charged_once(
        self,
        ctx: Context,
        user: User,
        backend: Any,
        dispatcher: Dispatcher,
        file_server: FileServer,
    ) -> None:
        order_no = _order(ctx, user, _song(file_server, "long.wav", 90.0))
        backend.start_worker(["cpu"])
        dispatcher.dispatch(order_no)
        _wait_for(ctx, order_no, ("processing",), 120)
        backend.kill_worker()
        order = _wait_for(ctx, order_no, ("finish", "failed", "timeout"), 180)
        assert order.status == "finish", order.reason
        assert order.attempts == 2
        assert order.cost == 40  # 20 a started minute of 90 s
        _assert_charged_once(ctx, order)

    def test_an_order_refused_for_its_busy_account_runs_once_the_account_frees_up(
        self,
        ctx: Context,
        settings: Settings,
        user: User,
        backend: Any,
        dispatcher: Dispatcher,
        file_server: FileServer,
    ) -> None:
        """The account may run one order at a time, so the idle second worker is refused the
        second order while the first runs; it must come back by itself, within seconds of the
        first ending, not when a reaper finds it (60 s here)."""
        settings.celery.lost_after_seconds = 60.0
        first = _order(ctx, user, _song(file_server, "long.wav", 45.0))
        second = _order(ctx, user, _song(file_server, "short.wav", 2.0))
        backend.start_worker(["cpu"])
        backend.start_worker(["cpu"])
        dispatcher.dispatch(first)
        _wait_for(ctx, first, ("processing",), 120)
        dispatcher.dispatch(second)
        done = _wait_for(ctx, first, ("finish", "failed", "timeout"), 120)
        assert done.status == "finish", done.reason
        assert _wait_for(ctx, second, ("pending", "processing", "finish"), 1).attempts <= 1
        order = _wait_for(ctx, second, ("finish", "failed", "timeout"), 20)
        assert order.status == "finish", order.reason
        assert order.attempts == 1
        assert done.finished_at is not None and order.started_at is not None
        assert order.started_at >= done.finished_at  # never two at once for one account
        backend.assert_refused_and_retried()

    def test_a_worker_takes_only_the_orders_of_its_queues(
        self,
        ctx: Context,
        settings: Settings,
        user: User,
        backend: Any,
        dispatcher: Dispatcher,
        file_server: FileServer,
    ) -> None:
        to_gpu = settings.model_copy(update={"routes": {"separation": "gpu"}})
        gpu_order = _order(ctx, user, _song(file_server, "g.wav", 2.0), to_gpu)
        cpu_order = _order(ctx, user, _song(file_server, "c.wav", 2.0))
        backend.start_worker(["cpu"])
        dispatcher.dispatch(gpu_order)
        dispatcher.dispatch(cpu_order)
        assert _wait_for(ctx, cpu_order, ("finish", "failed"), 120).status == "finish"
        time.sleep(2.5)  # past lost_after_seconds: the reaper sends it again, to its own queue
        assert _wait_for(ctx, gpu_order, ("pending",), 1).attempts == 0
        backend.start_worker(["gpu"])
        order = _wait_for(ctx, gpu_order, ("finish", "failed", "timeout"), 120)
        assert order.status == "finish", order.reason
        assert order.queue == "gpu"


class TestEmbeddedQueue(QueueContract):
    backend_name = "embedded"

    # the embedded queue has no messages to double: idle workers poll the orders table, so its
    # doubled delivery is two workers that saw the same order, raced below
    test_a_doubled_message_runs_the_order_once = None  # type: ignore[assignment]

    def test_two_workers_that_saw_one_order_claim_it_at_once_and_one_runs_it(
        self, ctx: Context, settings: Settings, user: User, file_server: FileServer
    ) -> None:
        order_no = _order(ctx, user, _song(file_server, "a.wav", 2.0))
        workers = [Worker(settings), Worker(settings)]
        for worker in workers:
            assert orders.next_claimable(worker.ctx.db, settings) == [order_no]
        start = threading.Barrier(len(workers))
        ran: list[bool] = []

        def race(worker: Worker) -> None:
            start.wait()
            ran.append(run_order(worker.ctx, order_no))

        threads = [threading.Thread(target=race, args=(worker,)) for worker in workers]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
        finally:
            for worker in workers:
                worker.ctx.close()
        assert sorted(ran) == [False, True]
        order = _wait_for(ctx, order_no, ("finish",), 1)
        assert order.attempts == 1
        _assert_charged_once(ctx, order)


class TestCeleryQueue(QueueContract):
    backend_name = "celery"


class TestYinziWorkerCommand(QueueContract):
    """``yinzi worker --queues Q --concurrency 1`` with ``YINZI_QUEUE=celery`` runs a Celery
    worker (prefork pool) that takes its queues' orders. Only the command differs from
    :class:`TestCeleryQueue`, so the message-level cases are not run twice."""

    backend_name = "celery"

    @pytest.fixture
    def backend(self, settings: Settings, tmp_path: Path) -> Iterator[Any]:
        client = _redis_or_skip()
        client.flushdb()
        command = [sys.executable, "-m", "yinzi", "worker", "--concurrency", "1"]
        celery = CeleryBackend(settings, tmp_path, command)
        yield celery
        celery.stop()
        client.flushdb()
        client.close()

    test_a_doubled_message_runs_the_order_once = None  # type: ignore[assignment]
    test_a_lost_message_is_recovered = None  # type: ignore[assignment]
    test_a_worker_killed_mid_order_leaves_it_finished_once_and_charged_once = None  # type: ignore[assignment]
    test_an_order_refused_for_its_busy_account_runs_once_the_account_frees_up = None  # type: ignore[assignment]


def _song(file_server: FileServer, name: str, seconds: float) -> str:
    testing.song(file_server.root / name, seconds=seconds)
    return file_server.url(name)


def _order(ctx: Context, user: User, url: str, settings: Settings | None = None) -> str:
    with ctx.db.write() as s:
        account = accounts.find(s, user.email)
        order = orders.create(
            s, settings or ctx.settings, account, "track-separation", url, {"format": "wav"}
        )
        return order.order_no


def _wait_for(ctx: Context, order_no: str, statuses: tuple[str, ...], timeout: float) -> Order:
    deadline = time.monotonic() + timeout
    while True:
        with ctx.db.read() as s:
            order = s.get(Order, order_no)
            assert order is not None
            if order.status in statuses:
                return order
        if time.monotonic() > deadline:
            raise AssertionError(f"order {order_no} is {order.status}, not {statuses}")
        time.sleep(0.05)


def _assert_charged_once(ctx: Context, order: Order) -> None:
    with ctx.db.read() as s:
        kinds = s.execute(
            select(LedgerEntry.kind).where(LedgerEntry.order_no == order.order_no)
        ).scalars()
        assert list(kinds).count("capture") == 1
        assert order.pay_status == "paid"


def test_a_dispatch_during_a_broker_outage_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("celery")
    from yinzi.queue.celery import CeleryDispatcher

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(
        tmp_path, queue="celery", celery=CelerySettings(broker_url=f"redis://127.0.0.1:{port}/0")
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.db_url)
    ctx = Context.build(settings)
    dispatcher = CeleryDispatcher(settings, ctx.db)
    try:
        user = new_user(ctx)
        order_no = _order(ctx, user, "http://127.0.0.1:9/a.wav")
        started = time.monotonic()
        dispatcher.dispatch(order_no)  # logged, not raised: the reaper sends it later
        assert time.monotonic() - started < 10
        assert f"could not send order {order_no} to queue cpu" in caplog.text
        assert _wait_for(ctx, order_no, ("pending",), 1).attempts == 0
    finally:
        dispatcher.close()
        ctx.close()
