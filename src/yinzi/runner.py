"""Run one order: claim → fetch input → probe → hold the real price → engine → store → settle.

The same ``run_order`` serves every queue backend. It is safe to call for any order number at
any time, as often as a queue delivers it: the claim decides whether this call does the work.
Every failure ends the order with a reason and releases its credits; nothing escapes to stop
the worker.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from yinzi import media
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.engines import registry
from yinzi.engines.separation.base import Separator
from yinzi.errors import YinziError
from yinzi.media import OutputFormat
from yinzi.services import orders
from yinzi.services.orders import ORDER_KINDS, StaleClaim

log = logging.getLogger(__name__)
_engines: dict[str, Any] = {}


def run_order(ctx: Context, order_no: str) -> bool:
    """Process ``order_no`` if it can be claimed; returns whether this call ran it."""
    claimed = orders.claim(ctx.db, ctx.settings, order_no)
    if claimed is None:
        return False
    order, token = claimed
    prefix = f"results/{order_no}/{token[:12]}/"
    log.info("order %s claimed (attempt %d)", order_no, order.attempts)
    try:
        with Lease(ctx, order_no, token) as lease:
            results, seconds = _process(ctx, order, prefix, lease)
            cost = orders.finish(ctx.db, ctx.settings, order_no, token, results, seconds)
        log.info("order %s finished, cost %d", order_no, cost)
    except StaleClaim:
        log.warning("order %s was taken from this worker; its results are discarded", order_no)
        ctx.storage.delete_prefix(prefix)
    except Exception as exc:
        ctx.storage.delete_prefix(prefix)
        _fail(ctx, order_no, token, exc)
    return True


def _fail(ctx: Context, order_no: str, token: str, exc: Exception) -> None:
    if isinstance(exc, YinziError):
        reason = exc.message
        log.info("order %s failed: %s", order_no, reason)
    else:
        reason = "internal error while processing the order"
        log.exception("order %s failed unexpectedly", order_no)
    try:
        orders.fail(ctx.db, order_no, token, reason)
    except StaleClaim:
        log.warning("order %s ended elsewhere before it could be failed", order_no)


def _process(
    ctx: Context, order: Order, prefix: str, lease: Lease
) -> tuple[list[dict[str, str]], float]:
    """Produce and store the order's results; returns them with the seconds of audio decoded."""
    kind = ORDER_KINDS[order.order_type]
    fmt = cast(OutputFormat, order.options.get("format", "mp3"))
    tmp_root = ctx.settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        work = Path(tmp)
        source = _obtain_input(ctx, order, work)
        info = media.probe(source)
        orders.set_duration(ctx.db, ctx.settings, order.order_no, lease.token, info.duration)
        engine = _engine(ctx.settings.separation_engine)
        outputs = {stem: work / f"{stem}.{fmt}" for stem in kind.outputs}
        seconds = _separate(engine, source, outputs, fmt, lease)
        results = []
        for stem, path in outputs.items():
            key = prefix + path.name
            ctx.storage.put_file(key, path)
            results.append({"name": path.name, "business": stem, "key": key})
    return results, seconds


def _obtain_input(ctx: Context, order: Order, work: Path) -> Path:
    if order.source.lower().startswith(("http://", "https://")):
        return ctx.fetcher.download(order.source, work / "input").path
    return ctx.storage.open_local(order.source, work)


def _separate(
    engine: Separator, source: Path, outputs: dict[str, Path], fmt: OutputFormat, lease: Lease
) -> float:
    """Stream the input through the engine into one encoder per stem; returns seconds decoded."""
    blocks = media.read_blocks(source, sample_rate=engine.sample_rate, channels=2)
    writers = {
        stem: media.AudioWriter(path, format=fmt, sample_rate=engine.sample_rate, channels=2)
        for stem, path in outputs.items()
    }
    try:
        for out in engine.separate(blocks, list(outputs), progress=lease.check):
            for stem, block in out.items():
                writers[stem].write(block)
    finally:
        for writer in writers.values():
            writer.close()
    first = next(iter(writers.values()))
    return first.samples_written / engine.sample_rate


def _engine(name: str) -> Separator:
    if name not in _engines:
        _engines[name] = registry.load(name, "separation")
    engine: Separator = _engines[name]
    return engine


class Lease:
    """Keeps the worker's claim alive while it works; ``check()`` stops work once it is lost."""

    def __init__(self, ctx: Context, order_no: str, token: str) -> None:
        self.ctx, self.order_no, self.token = ctx, order_no, token
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{order_no}", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def check(self, _progress: float = 0.0) -> None:
        if self._lost.is_set():
            raise StaleClaim()

    def _renew(self) -> None:
        interval = self.ctx.settings.lease_seconds / 3
        while not self._stop.wait(interval):
            try:
                orders.renew_lease(self.ctx.db, self.ctx.settings, self.order_no, self.token)
            except StaleClaim:
                self._lost.set()
                return
            except Exception:
                log.exception("could not renew the lease of order %s", self.order_no)
