"""Cluster mode of the test suite (``YINZI_TEST_CLUSTER=1``, set by ``make test-cluster``).

The ``settings``, ``ctx`` and ``worker`` fixtures of ``tests/conftest.py`` then give every test
a throwaway PostgreSQL database, S3 storage under a key prefix of its own on the session's
SeaweedFS server, and the Celery queue on the session's private Redis (emptied before each
test), so the test bodies run unchanged against the scale-out backends.

``helpers.drain`` stays the one way a test runs queued orders: with a :class:`ThreadWorker` it
starts a real Celery worker of the settings' app (``yinzi.queue.celery.make_app``, its reaper
included) in a thread of the test process, lets it take the orders the API dispatched, and stops
it once no order is left to claim or running. Orders thus run only inside ``drain``, as with the
embedded queue, and the worker shares the test's settings object, so a test that changes a
setting before draining changes it for the worker too.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

from sqlalchemy import or_, select

from yinzi.context import Context
from yinzi.db import utcnow
from yinzi.db.models import Order
from yinzi.services.orders import OrderStatus
from yinzi.settings import CelerySettings, S3Settings, Settings

from seaweed import ACCESS_KEY, SECRET_KEY

ENABLED = os.environ.get("YINZI_TEST_CLUSTER") == "1"


def settings(base: Settings, database_url: str, broker_url: str, s3_endpoint: str) -> Settings:
    """``base`` (a test's settings) moved onto PostgreSQL, S3 and Celery."""
    celery = CelerySettings(broker_url=broker_url, reap_interval_seconds=0.2, lost_after_seconds=1)
    s3 = S3Settings(
        endpoint_url=s3_endpoint,
        bucket="yinzi-test",
        region="us-east-1",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        addressing_style="path",
        prefix=f"run-{secrets.token_hex(4)}/",
        presign=False,  # links through the app's /files/, which the tests' client can reach
        max_attempts=2,
    )
    update = {"database_url": database_url, "queue": "celery", "celery": celery}
    return base.model_copy(update={**update, "storage": "s3", "s3": s3})


class ThreadWorker:
    """The cluster-mode twin of :class:`yinzi.queue.embedded.Worker` for ``helpers.drain``."""

    def __init__(self, settings: Settings) -> None:
        from yinzi.queue.celery import make_app

        self.settings = settings
        self.ctx = Context.build(settings)
        self.app = make_app(settings)
        self.app.conf.worker_hijack_root_logger = False  # pytest keeps its log capture
        self.queues = sorted({"cpu", "gpu", "links", *settings.routes.values()})

    def drain(self, timeout: float = 120.0) -> int:
        """Run a Celery worker until no order is left to run; returns how many it ran."""
        from celery.contrib.testing.worker import start_worker
        from celery.signals import task_postrun

        from yinzi.queue.celery import TASK_NAME

        task = self.app.tasks[TASK_NAME]
        ran = 0

        def count(sender: Any = None, retval: Any = None, **_: Any) -> None:
            nonlocal ran
            ran += sender is task and retval is True

        task_postrun.connect(count, weak=False)
        try:
            with start_worker(
                self.app,
                pool="solo",
                queues=self.queues,
                perform_ping_check=False,
                loglevel="WARNING",
                shutdown_timeout=timeout,
            ):
                self._wait_until_idle(timeout)
        finally:
            task_postrun.disconnect(count)
        return ran

    def _wait_until_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._busy():
            if time.monotonic() > deadline:
                raise AssertionError(f"orders still queued or running after {timeout} s")
            time.sleep(0.05)

    def _busy(self) -> bool:
        """Whether an order waits for a worker (its account's limit aside) or runs under a
        current lease. One statement, so one snapshot: checking "claimable" and "running" apart
        would miss an order that became claimable when the running one ended between the two."""
        now = utcnow()
        retries_left = Order.attempts < self.settings.max_attempts
        waiting = (
            (Order.status == OrderStatus.PENDING) & Order.cancel_requested.is_(False) & retries_left
        )
        running = (Order.status == OrderStatus.PROCESSING) & (
            (Order.lease_until >= now) | retries_left
        )
        with self.ctx.db.read() as session:
            return (
                session.scalars(select(Order.order_no).where(or_(waiting, running))).first()
                is not None
            )

    def close(self) -> None:
        self.app.close()
        self.ctx.close()
