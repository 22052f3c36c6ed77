"""The Celery queue (``YINZI_QUEUE=celery``, extra ``yinzi[celery]``): orders as tasks over Redis.

A message only says "run order N": the task calls :func:`yinzi.runner.run_order`, whose claim
makes running an order exactly-once, so a doubled message does nothing. A message is
acknowledged after the task returns (``task_acks_late``) and put back if its worker dies
(``task_reject_on_worker_lost``); each worker process holds one message at a time
(``worker_prefetch_multiplier=1``), and Redis gives an unacknowledged message to another worker
only after ``visibility_timeout``, which is longer than an order may live. Whatever is still
lost (a message dropped by the broker, a dispatch during a broker outage) is sent again by the
reaper that each worker runs beside its tasks (:mod:`yinzi.queue.reaper`).

A claim refused because the order's account already runs its limit of orders
(``running_orders_limit``) leaves the order waiting: the task then sends it again with a short
countdown (:func:`retry_countdown`), as often as it is refused, so it runs within seconds of the
account freeing up, as the embedded workers' polling would run it. The retries stop once the
order is claimed or has ended (at the latest at its deadline).

Celery is imported only here, and only when an app is built: :func:`make_app` builds one from
settings; the module attribute ``app`` (for ``celery -A yinzi.queue.celery worker``) builds one
from the environment on first access.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from yinzi.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from yinzi.context import Context
    from yinzi.db import Database

log = logging.getLogger(__name__)

TASK_NAME = "yinzi.run_order"
RETRY_FIRST = 0.25
RETRY_MOST = 5.0
"""Bounds of the countdown of an order retried because its account runs its limit of orders."""


def make_app(settings: Settings) -> Celery:
    """A Celery app for ``settings``, its ``yinzi.run_order`` task and the reaper bootstep."""
    from celery import Celery

    from yinzi.queue.reaper import reaper_step

    app = Celery("yinzi", broker=settings.celery.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue="cpu",
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout(settings)},
    )
    runtime = _Runtime(settings)

    # No limit on retries: an order is retried only while it waits, and never past its deadline.
    # Not shared: another app built in this process must not take this app's settings.
    @app.task(name=TASK_NAME, ignore_result=True, bind=True, max_retries=None, shared=False)  # type: ignore[untyped-decorator]
    def run_order(task: Any, order_no: str) -> bool:
        from yinzi.runner import run_order as run
        from yinzi.services.orders import still_waiting

        ctx = runtime.context()
        if run(ctx, order_no):
            return True
        if still_waiting(ctx.db, ctx.settings, order_no):  # its account runs its limit
            retries = task.request.retries
            raise task.retry(countdown=retry_countdown(settings, retries))
        return False

    app.steps["worker"].add(reaper_step(settings))
    return app


def retry_countdown(settings: Settings, retries: int) -> float:
    """Seconds before an order refused for its busy account is tried again: doubling from
    :data:`RETRY_FIRST` up to :data:`RETRY_MOST`, and at most half of ``lost_after_seconds``,
    so the reaper counts the retry held by a worker as on its way, not lost."""
    doubled = RETRY_FIRST * (1 << min(retries, 16))
    return min(doubled, RETRY_MOST, settings.celery.lost_after_seconds / 2)


def visibility_timeout(settings: Settings) -> int:
    """Seconds Redis waits before giving an unacknowledged message to another worker: longer
    than any order may live, so a running order's message is never handed out twice."""
    return int(settings.order_timeout_seconds + settings.lease_seconds) + 60


class _Runtime:
    """The worker process's :class:`Context`, built on its first task (after a fork)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ctx: Context | None = None
        self._lock = threading.Lock()

    def context(self) -> Context:
        with self._lock:
            if self._ctx is None:
                from yinzi.context import Context
                from yinzi.dialects import register_callbacks

                register_callbacks()
                self._ctx = Context.build(self.settings)
            return self._ctx


class CeleryDispatcher:
    """Sends ``yinzi.run_order`` to the order's queue. A broker outage is logged, never raised:
    the order stays pending in the database and the reaper sends it once the broker is back."""

    def __init__(self, settings: Settings, db: Database, app: Celery | None = None) -> None:
        self.settings = settings
        self.db = db
        self.app = app or make_app(settings)

    def dispatch(self, order_no: str) -> None:
        from yinzi.db.models import Order

        with self.db.read() as session:
            order = session.get(Order, order_no)
            queue = order.queue if order is not None else "cpu"
        self.send(order_no, queue)

    def send(self, order_no: str, queue: str) -> bool:
        """Send one message; returns whether the broker took it."""
        try:
            self.app.send_task(
                TASK_NAME, args=[order_no], queue=queue, retry=True, retry_policy={"max_retries": 2}
            )
        except Exception as exc:  # kombu raises many kinds for a broker that is down
            log.warning("could not send order %s to queue %s: %s", order_no, queue, exc)
            return False
        return True

    def close(self) -> None:
        self.app.close()


def run_worker(app: Celery, queues: list[str], concurrency: int, pool: str = "prefork") -> None:
    """Run a Celery worker in this process until it is stopped (Ctrl-C or SIGTERM)."""
    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", "--loglevel=INFO"]
    if queues:
        argv.append(f"--queues={','.join(queues)}")
    app.worker_main(argv)


def __getattr__(name: str) -> Any:
    """``app``: built from the environment's settings the first time it is asked for."""
    if name == "app":
        built = make_app(Settings())
        globals()["app"] = built
        return built
    raise AttributeError(name)
