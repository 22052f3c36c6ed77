"""Prometheus metrics, through the standard ``prometheus-client`` library.

Invariants:

- Counters count committed changes only: services hand the increment to :func:`on_commit`, which
  runs it when the session's transaction commits and drops it when the transaction rolls back.
- Queue depth is counted in the database, so every API process reports the same numbers, and
  at most once every :data:`DEPTH_CACHE_SECONDS` per process however many servers scrape it
  (one count at a time; scrapes meanwhile reuse the last). An order this process creates or
  ends drops the cached count, so the process's own changes show at the next scrape.
- With ``PROMETHEUS_MULTIPROC_DIR`` set (before any Yinzi process starts, to an empty folder
  every process of the installation shares), each process writes its samples there and a scrape
  of any API process sums them across API processes and workers; without it a scrape shows this
  process alone. Files are named by host name and process id, so containers that share the
  folder through a volume (and reuse the same small process ids) never write to the same file.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from yinzi.db import Database
from yinzi.db.models import Order

log = logging.getLogger(__name__)


def process_identifier() -> str:
    """This process's name in the multi-process folder: host name and process id."""
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_identifier)  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_LATEST
ACTIVE_STATUSES = ("pending", "processing")
DEPTH_CACHE_SECONDS = 2.0
"""How long one process reuses a queue-depth count."""
DURATION_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))

ORDERS_CREATED = Counter("yinzi_orders_created", "Orders created, by order type.", ["type"])
ORDERS_ENDED = Counter(
    "yinzi_orders_ended",
    "Orders that reached a final status, by type and status.",
    ["type", "status"],
)
ORDER_DURATION = Histogram(
    "yinzi_order_duration_seconds",
    "Seconds from a worker's claim to the end of the run, by type and outcome.",
    ["type", "status"],
    buckets=DURATION_BUCKETS,
)
ENGINE_SECONDS = Histogram(
    "yinzi_engine_seconds",
    "Seconds spent in the engine's task of one run, by order type.",
    ["type"],
    buckets=DURATION_BUCKETS,
)
CALLBACKS = Counter(
    "yinzi_callbacks",
    "Callback delivery attempts by outcome (delivered, retry, failed).",
    ["outcome"],
)
CREDIT_MOVEMENTS = Counter("yinzi_credit_movements", "Ledger entries written, by kind.", ["kind"])
CREDITS_MOVED = Counter(
    "yinzi_credits_moved",
    "Credits moved by ledger entries, by kind (the larger of the available and held change).",
    ["kind"],
)

_PENDING = "yinzi.metrics.pending"


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once ``session``'s transaction commits; never if it rolls back."""
    session.info.setdefault(_PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    for action in session.info.pop(_PENDING, []):
        action()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


_order_changes = 0
"""Orders this process created or ended (committed): a cached queue depth older than the last
change is counted again."""


def _count_change(counter: Callable[[], None]) -> Callable[[], None]:
    def count() -> None:
        global _order_changes
        _order_changes += 1
        counter()

    return count


def order_created(session: Session, order_type: str) -> None:
    on_commit(session, _count_change(ORDERS_CREATED.labels(order_type).inc))


def order_ended(session: Session, order_type: str, status: str) -> None:
    on_commit(session, _count_change(ORDERS_ENDED.labels(order_type, status).inc))


def credits_moved(session: Session, kind: str, available: int, held: int) -> None:
    amount = max(abs(available), abs(held))

    def count() -> None:
        CREDIT_MOVEMENTS.labels(kind).inc()
        CREDITS_MOVED.labels(kind).inc(amount)

    on_commit(session, count)


def callback_outcome(outcome: str) -> None:
    CALLBACKS.labels(outcome).inc()


Rows = list[tuple[str, str, str, int]]


class QueueDepth:
    """Active orders per queue, type and status, counted in the database at scrape time and
    reused for ``cache_seconds`` (see the module's invariants)."""

    def __init__(self, db: Database, cache_seconds: float = DEPTH_CACHE_SECONDS) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._rows: Rows | None = None
        self._counted_at = 0.0
        self._changes = 0

    def rows(self) -> Rows:
        """The last count while it is fresh, else a new one (one at a time per process)."""
        with self._lock:
            fresh = time.monotonic() - self._counted_at < self.cache_seconds
            if self._rows is not None and fresh and self._changes == _order_changes:
                return self._rows
            changes = _order_changes
            self._rows = self._count()
            self._counted_at, self._changes = time.monotonic(), changes
            return self._rows

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "yinzi_queue_depth",
            "Orders waiting (pending) or running (processing), by queue, type and status.",
            labels=["queue", "type", "status"],
        )
        up = GaugeMetricFamily(
            "yinzi_queue_depth_up", "1 when the database answered the queue-depth query."
        )
        try:
            rows = self.rows()
        except Exception:
            log.exception("queue depth: the database did not answer")
            up.add_metric([], 0)
        else:
            for queue, order_type, status, count in sorted(rows):
                depth.add_metric([queue, order_type, status], count)
            up.add_metric([], 1)
        yield depth
        yield up

    def _count(self) -> Rows:
        with self.db.read() as session:
            rows = session.execute(
                select(Order.queue, Order.order_type, Order.status, func.count())
                .where(Order.status.in_(ACTIVE_STATUSES))
                .group_by(Order.queue, Order.order_type, Order.status)
            ).all()
        return [(str(q), str(t), str(s), int(c)) for q, t, s, c in rows]


def exposition(depth: QueueDepth) -> bytes:
    """The text a scrape answers: this installation's samples and the queue depth."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
        body = generate_latest(shared)
    else:
        body = generate_latest(REGISTRY)
    local = CollectorRegistry(auto_describe=False)
    local.register(depth)
    return body + generate_latest(local)


def authorized(header: str | None, token: str | None) -> bool:
    """Whether a request's ``Authorization`` header may read the metrics."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
