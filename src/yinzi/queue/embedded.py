"""The embedded queue: worker processes that poll the orders table.

``dispatch`` has nothing to send, since the orders table itself is the queue: an idle worker
claims the oldest claimable order within ``poll_interval_seconds``. Workers are separate
processes, so the API process stays responsive while every core separates audio; a supervisor
restarts any worker that dies, and the dead worker's order is re-run once its lease expires.

A worker never outlives the process that started it: it watches its parent's sentinel (a pipe
that reaches end-of-file however the parent ends, ``kill -9`` included) and exits at once, so no
orphan keeps taking orders beside a restarted server. Workers ignore SIGINT: Ctrl-C reaches the
whole process group, and the parent stops them in order through the shared stop event.

Workers run at a lower priority (``worker_nice``, 10 by default): separation takes every core it
is given, and the API process beside them should answer within milliseconds all the same.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

from yinzi.settings import Settings

log = logging.getLogger(__name__)


class EmbeddedDispatcher:
    def dispatch(self, order_no: str) -> None:
        """Nothing to send: idle workers poll the orders table."""


class Worker:
    """One worker's loop: claim and run orders, and do periodic upkeep. Callbacks are delivered
    by a :class:`~yinzi.services.callbacks.DeliveryLoop` beside it, never by this loop."""

    def __init__(self, settings: Settings) -> None:
        from yinzi.context import Context

        self.ctx = Context.build(settings)
        self._next_upkeep = 0.0
        self._next_retention = 0.0

    def run_once(self) -> bool:
        """Run at most one order; returns whether one was run."""
        from yinzi.runner import run_order
        from yinzi.services import orders

        self.upkeep()
        for order_no in orders.next_claimable(self.ctx.db, self.ctx.settings):
            if run_order(self.ctx, order_no):
                return True
        return False

    def upkeep(self, force: bool = False) -> None:
        from yinzi.services import console_sessions, orders, passwords, retention

        now = time.monotonic()
        if force or now >= self._next_upkeep:
            self._next_upkeep = now + 5.0
            for order_no in orders.expire_overdue(self.ctx.db, self.ctx.settings):
                log.info("order %s ended past its deadline or attempts", order_no)
        if force or now >= self._next_retention:
            self._next_retention = now + self.ctx.settings.retention_interval_seconds
            retention.purge(self.ctx)
            with self.ctx.db.write() as session:
                console_sessions.purge_expired(session)
                passwords.purge_attempts(session, self.ctx.settings)
                passwords.purge_links(session)

    def run_forever(self, stop: threading.Event | Any) -> None:
        from yinzi.services.callbacks import DeliveryLoop

        interval = self.ctx.settings.poll_interval_seconds
        deliveries = DeliveryLoop(self.ctx)
        deliveries.start()
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database may be briefly unavailable; keep going
                log.exception("worker loop error")
                ran = False
            if not ran:
                stop.wait(interval)
        deliveries.stop()
        self.ctx.close()


def worker_main(settings_data: dict[str, Any], stop: Any) -> None:
    """Entry point of a worker process."""
    from yinzi.dialects import register_callbacks
    from yinzi.logs import configure_logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging()
    exit_with_parent()
    register_callbacks()
    settings = Settings.model_validate(settings_data)
    os.nice(settings.worker_nice)
    Worker(settings).run_forever(stop)


def exit_with_parent() -> None:
    """End this process as soon as its parent process is gone, whatever it was doing."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        log.warning("the process that started worker %d is gone; it exits", os.getpid())
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class WorkerPool:
    """Starts ``count`` worker processes and restarts any that die."""

    def __init__(self, settings: Settings, count: int | None = None) -> None:
        self.settings = settings
        self.count = settings.workers if count is None else count
        self._mp = multiprocessing.get_context("spawn")
        self._stop = self._mp.Event()
        self._procs: list[BaseProcess] = []
        self._supervisor: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self) -> None:
        self._procs = [self._spawn(i) for i in range(self.count)]
        self._supervisor = threading.Thread(target=self._supervise, daemon=True, name="workers")
        self._supervisor.start()

    def _spawn(self, index: int) -> BaseProcess:
        data = self.settings.model_dump(mode="json")
        proc = self._mp.Process(
            target=worker_main, args=(data, self._stop), name=f"yinzi-worker-{index}", daemon=True
        )
        proc.start()
        return proc

    def _supervise(self) -> None:
        while not self._closing.wait(1.0):
            for i, proc in enumerate(self._procs):
                if not proc.is_alive() and not self._closing.is_set():
                    log.warning("worker %s exited (%s); restarting it", proc.name, proc.exitcode)
                    self._procs[i] = self._spawn(i)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def stop(self, timeout: float = 10.0) -> None:
        self._closing.set()
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
