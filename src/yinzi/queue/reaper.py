"""The reaper each Celery worker runs beside its tasks, so a lost or doubled message changes
nothing: every ``celery.reap_interval_seconds`` it

- sends again every order that a worker could claim and that no message is known to be on its
  way for: a processing order whose lease expired (its worker died), or a pending one sent more
  than ``celery.lost_after_seconds`` ago (its message was lost, or dispatch met a broker outage);
- ends overdue orders and does the embedded workers' upkeep (retention, expired sessions), and
  delivers callbacks in a :class:`~yinzi.services.callbacks.DeliveryLoop`.

When a message was last sent for an order is kept in Redis (``yinzi:sent:ORDER``, expiring after
``lost_after_seconds``), so several workers' reapers send one order at most once per period.
Sending an order twice is harmless: only one claim succeeds.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from yinzi.settings import Settings

log = logging.getLogger(__name__)

SENT_PREFIX = "yinzi:sent:"


class Reaper:
    def __init__(self, settings: Settings) -> None:
        import redis

        from yinzi.dialects import register_callbacks
        from yinzi.queue.celery import CeleryDispatcher
        from yinzi.queue.embedded import Worker

        register_callbacks()
        self.settings = settings
        self.upkeeper = Worker(settings)
        self.dispatcher = CeleryDispatcher(settings, self.upkeeper.ctx.db)
        self.redis = redis.Redis.from_url(settings.celery.broker_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stranded(self) -> list[tuple[str, str]]:
        """(order, queue) of orders a worker could claim now, oldest first."""
        from yinzi.db import utcnow
        from yinzi.db.models import Order
        from yinzi.services.orders import OrderStatus

        now = utcnow()
        lost = now - timedelta(seconds=self.settings.celery.lost_after_seconds)
        with self.upkeeper.ctx.db.read() as session:
            rows = session.execute(
                select(Order.order_no, Order.queue)
                .where(
                    Order.attempts < self.settings.max_attempts,
                    Order.cancel_requested.is_(False),
                    Order.deadline_at >= now,
                    or_(
                        (Order.status == OrderStatus.PENDING) & (Order.created_at < lost),
                        (Order.status == OrderStatus.PROCESSING) & (Order.lease_until < now),
                    ),
                )
                .order_by(Order.created_at)
                .limit(500)
            )
            return [(str(no), str(queue)) for no, queue in rows]

    def reap(self) -> int:
        """One pass; returns how many orders were sent again."""
        self.upkeeper.upkeep()
        ttl = max(1, int(self.settings.celery.lost_after_seconds))
        sent = 0
        for order_no, queue in self.stranded():
            if not self.redis.set(SENT_PREFIX + order_no, "1", ex=ttl, nx=True):
                continue
            if self.dispatcher.send(order_no, queue):
                log.info("order %s sent again to queue %s", order_no, queue)
                sent += 1
        return sent

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="yinzi-reaper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from yinzi.services.callbacks import DeliveryLoop

        deliveries = DeliveryLoop(self.upkeeper.ctx)
        deliveries.start()
        while not self._stop.is_set():
            try:
                self.reap()
            except Exception:  # the database or the broker may be briefly unavailable
                log.exception("reaper pass failed")
            self._stop.wait(self.settings.celery.reap_interval_seconds)
        deliveries.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.dispatcher.close()
        self.redis.close()
        self.upkeeper.ctx.close()


def reaper_step(settings: Settings) -> type:
    """A Celery worker bootstep that runs a :class:`Reaper` while the worker runs."""
    from celery import bootsteps

    class ReaperStep(bootsteps.StartStopStep):  # type: ignore[misc]
        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self.reaper: Reaper | None = None

        def start(self, parent: Any) -> None:
            self.reaper = Reaper(settings)
            self.reaper.start()

        def stop(self, parent: Any) -> None:
            if self.reaper is not None:
                self.reaper.stop()
                self.reaper = None

        def terminate(self, parent: Any) -> None:
            """A cold shutdown stops the reaper too (StartStopStep's own does nothing here)."""
            self.stop(parent)

    return ReaperStep
