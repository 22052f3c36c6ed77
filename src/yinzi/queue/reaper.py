"""The reaper each Celery worker runs beside its tasks, so a lost or doubled message changes
nothing: every ``celery.reap_interval_seconds`` it

- sends again every order that a worker could claim and whose message is really missing: a
  processing order whose lease expired (its worker died), or a pending one created more than
  ``celery.lost_after_seconds`` ago (its message was lost, or dispatch met a broker outage);
- ends overdue orders and does the embedded workers' upkeep (retention, expired sessions), and
  delivers callbacks in a :class:`~yinzi.services.callbacks.DeliveryLoop`.

Whether a message is missing is read from the broker itself, so a deep backlog (orders waiting
behind busy workers, their messages in the queue) is never sent twice. Kombu keeps a Redis queue
as a list named after it (``LPUSH`` to send, ``BRPOP`` to receive), each message a JSON object
whose base64 ``body`` holds the task's arguments; a message a worker has received but not yet
acknowledged sits in the hash ``unacked``, with the time it was received in ``unacked_index``.
An order's message is on its way while it is in its queue's list, or was received by a worker
less than ``lost_after_seconds`` ago (a worker about to claim it, or holding a busy account's
retry until its countdown ends); one received longer ago belongs to a worker that died.
Anything else is missing. The check reads the candidates' queues in pages, so it costs one read
of those queues per period, and only when some order is a candidate.

When an order was last considered is kept in Redis (``yinzi:sent:ORDER``, expiring after
``lost_after_seconds``), so several workers' reapers look at one order, and send it, at most
once per period. Sending an order twice is harmless: only one claim succeeds.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import or_, select

from yinzi.settings import Settings

log = logging.getLogger(__name__)

SENT_PREFIX = "yinzi:sent:"
UNACKED, UNACKED_INDEX = "unacked", "unacked_index"
"""Kombu's Redis keys of received, unacknowledged messages (its transport's defaults)."""
PAGE = 500
"""Messages read from a queue's list at a time."""


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
        due = [
            (order_no, queue)
            for order_no, queue in self.stranded()
            if self.redis.set(SENT_PREFIX + order_no, "1", ex=ttl, nx=True)
        ]
        if not due:
            return 0
        on_their_way = self.on_their_way({queue for _, queue in due})
        sent = 0
        for order_no, queue in due:
            if order_no in on_their_way:
                continue
            if self.dispatcher.send(order_no, queue):
                log.info("order %s sent again to queue %s", order_no, queue)
                sent += 1
        return sent

    def on_their_way(self, queues: Iterable[str]) -> set[str]:
        """Orders with a message in one of ``queues``, or received by a worker less than
        ``lost_after_seconds`` ago and not yet acknowledged (see the module docstring)."""
        found: list[str | None] = []
        for queue in queues:  # sends push on the left, so paging from the left skips nothing
            start = 0
            while page := self.redis.lrange(queue, start, start + PAGE - 1):
                found.extend(_order_of(raw) for raw in page)
                start += PAGE
        since = time.time() - self.settings.celery.lost_after_seconds
        tags = cast(list[bytes], self.redis.zrangebyscore(UNACKED_INDEX, since, "+inf"))
        if tags:
            held = self.redis.hmget(UNACKED, tags)
            found.extend(_order_of(raw, held=True) for raw in held if raw is not None)
        return {order_no for order_no in found if order_no is not None}

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


def _order_of(raw: bytes | str, *, held: bool = False) -> str | None:
    """The order a kombu message of ``yinzi.run_order`` is for; None for any other message.
    ``held``: ``raw`` is an ``unacked`` entry, ``[message, exchange, routing_key]``."""
    from yinzi.queue.celery import TASK_NAME

    try:
        message = json.loads(raw)
        if held:
            message = message[0]
        if message["headers"]["task"] != TASK_NAME:
            return None
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return str(args[0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


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
