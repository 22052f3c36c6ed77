"""Retention: inputs and results are deleted ``retention_days`` after they were made.

Order rows stay (they are the billing history); their files go and ``purged_at`` is set.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from yinzi.db import utcnow
from yinzi.db.models import Account, Order, Upload
from yinzi.services import orders

if TYPE_CHECKING:
    from yinzi.context import Context

log = logging.getLogger(__name__)


def purge(ctx: Context, now: datetime | None = None) -> tuple[int, int]:
    """Delete expired results and uploads; returns (orders purged, uploads deleted)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=ctx.settings.retention_days)
    purged = _purge_results(ctx, cutoff, now)
    removed = _purge_uploads(ctx, cutoff)
    _purge_scratch(ctx)
    if purged or removed:
        log.info("retention: purged %d orders' results and %d uploads", purged, removed)
    return purged, removed


def _purge_results(ctx: Context, cutoff: datetime, now: datetime) -> int:
    with ctx.db.read() as session:
        due = list(
            session.execute(
                select(Order.order_no).where(Order.finished_at < cutoff, Order.purged_at.is_(None))
            ).scalars()
        )
    for order_no in due:
        purge_order(ctx, order_no, now)
    return len(due)


def purge_order(ctx: Context, order_no: str, now: datetime, **values: object) -> None:
    """Delete one order's results now and mark it purged (setting ``values`` too); the row
    stays. Used by retention and by the owner's ``order/delete-results``."""
    ctx.storage.delete_prefix(f"results/{order_no}/")
    with ctx.db.write() as session:
        session.execute(
            update(Order)
            .where(Order.order_no == order_no)
            .values(results=[], purged_at=now, updated_at=now, **values)
        )


def _purge_uploads(ctx: Context, cutoff: datetime) -> int:
    with ctx.db.read() as session:
        due = list(session.execute(select(Upload.key).where(Upload.created_at < cutoff)).scalars())
    for key in due:
        ctx.storage.delete_prefix(key)
        with ctx.db.write() as session:
            session.execute(delete(Upload).where(Upload.key == key))
    return len(due)


def _purge_scratch(ctx: Context) -> None:
    """Scratch folders of workers that died mid-order, once no order could still use them."""
    root = ctx.settings.data_dir / "tmp"
    if not root.is_dir():
        return
    too_old = time.time() - 2 * ctx.settings.order_timeout_seconds
    for path in root.iterdir():
        if path.stat().st_mtime < too_old:
            shutil.rmtree(path, ignore_errors=True)


RESULTS_DELETED = "results were deleted by the owner"


def delete_results(ctx: Context, account: Account, order_no: str) -> None:
    """The owner deletes an ended order's stored results now; the order itself stays, its reason
    saying so. Another account's order is not found; an order still running is a BadRequest."""
    with ctx.db.read() as session:
        order = orders.get(session, account, order_no)
    orders.check_ended(order)
    reason = order.reason or ""
    if RESULTS_DELETED not in reason:
        reason = f"{reason} ({RESULTS_DELETED})" if reason else RESULTS_DELETED
    purge_order(ctx, order_no, utcnow(), reason=reason)
