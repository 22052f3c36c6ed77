"""Run one order: claim → fetch input → probe → hold the real price → task → store → settle.

Progress. The order's ``stage`` follows the steps (``fetching``, ``decoding``, the task's own
stage, ``encoding``, ``storing``) and its ``progress`` the share done: each stage starts at its
percent in :data:`STARTS`, and the task's reports (seconds of input done, or bars of music made)
divided by the probed duration (or the bars asked for) fill its stage's share, 10 to 90. The
:class:`Lease` keeps both in memory, so engines may report as often as they like, and its thread
writes them at most once every :data:`PROGRESS_INTERVAL` seconds, reading back whether the owner
cancelled the order; the next ``check()`` then stops the work with :class:`Cancelled`, and the
order fails like any other (credits released, partial results deleted).

The same ``run_order`` serves every queue backend. It is safe to call for any order number at
any time, as often as a queue delivers it: the claim decides whether this call does the work.
Every failure ends the order with a reason and releases its credits; nothing escapes to stop
the worker.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType

from yinzi import media, metrics
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.errors import Cancelled, InputTooLarge, YinziError
from yinzi.services import orders
from yinzi.services.orders import ORDER_KINDS, Stage, StaleClaim
from yinzi.tasks import TASKS, TaskResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0
"""Seconds between a worker's progress writes (each also reads whether the order was cancelled)."""

TASK_STAGES = {
    "separation": Stage.SEPARATING,
    "transcription": Stage.TRANSCRIBING,
    "music": Stage.COMPOSING,
}
STARTS = {
    Stage.QUEUED: 0,
    Stage.FETCHING: 2,
    Stage.DECODING: 5,
    **dict.fromkeys(TASK_STAGES.values(), 10),
    Stage.ENCODING: 90,
    Stage.STORING: 95,
}
"""The overall percent at which each stage starts; the task's stage runs up to ``encoding``'s."""


def run_order(ctx: Context, order_no: str) -> bool:
    """Process ``order_no`` if it can be claimed; returns whether this call ran it."""
    claimed = orders.claim(ctx.db, ctx.settings, order_no)
    if claimed is None:
        return False
    order, token = claimed
    prefix = f"results/{order_no}/{token[:12]}/"
    log.info("order %s claimed (attempt %d)", order_no, order.attempts)
    started, outcome = time.perf_counter(), "failed"
    try:
        with Lease(ctx, order_no, token) as lease:
            results, done = _process(ctx, order, prefix, lease)
            cost = orders.finish(
                ctx.db, ctx.settings, order_no, token, results, done.seconds, done.price
            )
        log.info("order %s finished, cost %d", order_no, cost)
        outcome = "finish"
    except StaleClaim:
        outcome = "stale"
        log.warning("order %s was taken from this worker; its results are discarded", order_no)
        _discard(ctx, order_no, prefix)
    except Exception as exc:
        _discard(ctx, order_no, prefix)
        _fail(ctx, order_no, token, exc)
    duration = time.perf_counter() - started
    metrics.ORDER_DURATION.labels(order.order_type, outcome).observe(duration)
    return True


def _discard(ctx: Context, order_no: str, prefix: str) -> None:
    """Delete what this attempt stored, if it can: a store that fails here is logged, never
    raised, so the order still ends at once; retention removes what is left with the order's
    other results."""
    try:
        ctx.storage.delete_prefix(prefix)
    except Exception as exc:
        log.warning("could not delete the partial results of order %s: %s", order_no, exc)


def _fail(ctx: Context, order_no: str, token: str, exc: Exception) -> None:
    if isinstance(exc, YinziError):
        reason, code = exc.message, exc.code
        log.info("order %s failed: %s", order_no, reason)
    else:
        reason, code = "internal error while processing the order", "internal_error"
        log.exception("order %s failed unexpectedly", order_no)
    try:
        orders.fail(ctx.db, order_no, token, reason, code)
    except StaleClaim:
        log.warning("order %s ended elsewhere before it could be failed", order_no)


def _process(
    ctx: Context, order: Order, prefix: str, lease: Lease
) -> tuple[list[dict[str, str]], TaskResult]:
    """Produce and store the order's results; returns them with what the task reported."""
    family = ORDER_KINDS[order.order_type].family
    task = TASKS[family]
    with _scratch(ctx, order.order_no, lease.token) as work:
        source = None
        if order.source:  # orders that make audio from nothing have no input
            lease.enter(Stage.FETCHING)
            source = _obtain_input(ctx, order, work)
            lease.enter(Stage.DECODING)
            info = media.probe(source)
            orders.set_duration(ctx.db, ctx.settings, order.order_no, lease.token, info.duration)
            total = info.duration
        else:  # music: its task reports the bars made
            total = float(order.options.get("length") or 0)
        lease.enter(TASK_STAGES[family], total)
        started = time.perf_counter()
        try:
            result = task(ctx.settings, order, source, work, lease.check)
        finally:
            elapsed = time.perf_counter() - started
            metrics.ENGINE_SECONDS.labels(order.order_type).observe(elapsed)
        lease.enter(Stage.STORING)
        results = []
        for output in result.outputs:
            lease.check()
            key = prefix + output.path.name
            ctx.storage.put_file(key, output.path)
            results.append({"name": output.path.name, "business": output.business, "key": key})
    return results, result


@contextmanager
def _scratch(ctx: Context, order_no: str, token: str) -> Iterator[Path]:
    """This attempt's scratch folder, ``tmp/<order_no>/<attempt>/``, removed when it ends.

    An attempt runs only once the previous one lost its claim, so whatever is left under
    ``tmp/<order_no>/`` then (a killed worker's input and stems) is removed first.
    """
    folder = ctx.settings.data_dir / "tmp" / order_no
    shutil.rmtree(folder, ignore_errors=True)
    work = folder / token[:12]
    work.mkdir(parents=True)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with suppress(OSError):  # not empty: a newer attempt has started meanwhile
            folder.rmdir()


def _obtain_input(ctx: Context, order: Order, work: Path) -> Path:
    """The order's input as a local file, within the order's own size limit if it has one
    (``options["maxInputBytes"]``, e.g. the vocal-removal API's limit on ``audioUrl``)."""
    limit: int | None = order.options.get("maxInputBytes")
    if order.source.lower().startswith(("http://", "https://")):
        return ctx.fetcher.download(order.source, work / "input", max_bytes=limit).path
    path = ctx.storage.open_local(order.source, work)
    size = path.stat().st_size
    if limit and size > limit:
        raise InputTooLarge(f"the input is {_mib(size)}, over the limit of {_mib(limit)}")
    return path


def _mib(size: int) -> str:
    return f"{size / 1024**2:.3g} MiB"


class Lease:
    """Keeps the worker's claim alive while it works and writes its progress; ``check()`` stops
    the work once the claim is lost (:class:`StaleClaim`) or the order cancelled
    (:class:`Cancelled`)."""

    def __init__(self, ctx: Context, order_no: str, token: str) -> None:
        self.ctx, self.order_no, self.token = ctx, order_no, token
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._stage, self._progress, self._total = Stage.QUEUED, 0, 0.0
        self._written = (self._progress, self._stage)
        self._thread = threading.Thread(target=self._renew, name=f"lease-{order_no}", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def state(self) -> tuple[int, Stage]:
        """The progress and stage the worker has reached (written within a second or so)."""
        with self._lock:
            return self._progress, self._stage

    def enter(self, stage: Stage, total: float = 0.0) -> None:
        """Move on to ``stage``; ``total`` is the work the task's reports count towards."""
        with self._lock:
            self._stage, self._total = stage, total
            self._progress = max(self._progress, STARTS[stage])
        self.check()

    def check(self, done: float = 0.0) -> None:
        """The task's callback: ``done`` of the total so far. Raises once the work must stop."""
        if done > 0 and self._total > 0:
            share = min(done / self._total, 1.0)
            with self._lock:
                if self._stage in TASK_STAGES.values():
                    start, end = STARTS[self._stage], STARTS[Stage.ENCODING]
                    self._progress = max(self._progress, start + int(share * (end - start)))
                    if share >= 1.0:  # the input is read: what is left is encoding
                        self._stage = Stage.ENCODING
        if self._lost.is_set():
            raise StaleClaim()
        if self._cancelled.is_set():
            raise Cancelled()

    def _renew(self) -> None:
        every = self.ctx.settings.lease_seconds / 3
        renew_at = time.monotonic() + every
        while not self._stop.wait(min(PROGRESS_INTERVAL, every)):
            renew = time.monotonic() >= renew_at
            try:
                self._report(renew)
            except StaleClaim:
                self._lost.set()
                return
            except Exception:
                log.exception("could not renew the lease of order %s", self.order_no)
                continue
            if renew:
                renew_at = time.monotonic() + every

    def _report(self, renew: bool) -> None:
        """Write the progress if it moved (and the lease if due); note a cancel."""
        state = self.state
        if renew or state != self._written:
            cancel = orders.report_progress(
                self.ctx.db, self.ctx.settings, self.order_no, self.token, *state, renew=renew
            )
            self._written = state
        else:
            cancel = orders.cancel_requested(self.ctx.db, self.order_no, self.token)
        if cancel:
            self._cancelled.set()
