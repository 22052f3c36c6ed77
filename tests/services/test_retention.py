"""Retention: files older than the retention period are deleted; billing history stays."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from yinzi.context import Context
from yinzi.db import utcnow
from yinzi.db.models import Order, Upload
from yinzi.media import testing
from yinzi.services import orders, retention

from helpers import User


def _finished_order(ctx: Context, user: User, tmp_path: Path) -> str:
    from yinzi.services import accounts

    with ctx.db.write() as s:
        account = accounts.find(s, user.email)
        order = orders.create(
            s, ctx.settings, account, "extract-voice", "https://example.com/a.mp3", {}
        )
    claimed = orders.claim(ctx.db, ctx.settings, order.order_no)
    assert claimed is not None
    key = f"results/{order.order_no}/x/vocals.mp3"
    (tmp_path / "v.mp3").write_bytes(b"audio")
    ctx.storage.put_file(key, tmp_path / "v.mp3")
    results = [{"name": "vocals.mp3", "business": "vocals", "key": key}]
    orders.finish(ctx.db, ctx.settings, order.order_no, claimed[1], results, 30.0)
    return order.order_no


def test_results_and_uploads_are_deleted_after_the_retention_period(
    client: TestClient, ctx: Context, user: User, tmp_path: Path
) -> None:
    order_no = _finished_order(ctx, user, tmp_path)
    song = testing.tone(tmp_path / "in.mp3", seconds=0.5).read_bytes()
    path_key = client.post(
        "/api/open/v1/file/upload", files={"file": ("in.mp3", song)}, headers=user.auth
    ).json()["data"]["pathKey"]
    files = ctx.settings.data_dir / "files"

    assert retention.purge(ctx) == (0, 0)  # nothing is old yet
    assert (files / "results" / order_no).is_dir()

    later = utcnow() + timedelta(days=ctx.settings.retention_days, hours=1)
    assert retention.purge(ctx, now=later) == (1, 1)
    assert not (files / "results" / order_no).exists()
    assert not (files / path_key).exists()
    with ctx.db.read() as s:
        order = s.get(Order, order_no)
        assert order is not None and order.purged_at is not None and order.cost == 10
        assert s.get(Upload, path_key) is None
    answer = client.get(f"/api/open/v1/order/query?orderNo={order_no}", headers=user.auth).json()[
        "data"
    ]
    assert (answer["status"], answer["stuffs"], answer["cost"]) == ("finish", [], 10)
    assert "retention" in answer["reason"]
    assert retention.purge(ctx, now=later) == (0, 0)  # idempotent
