"""``/metrics``: counts of real orders, credit movements and callbacks, the queue depth at
scrape time, the token, and the multi-process mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, func, select, update

from yinzi import metrics
from yinzi.context import Context
from yinzi.db.models import LedgerEntry, Order
from yinzi.queue.embedded import Worker
from yinzi.services import accounts, callbacks, orders

from helpers import Receiver, User, drain, make_settings

MUSIC = {"text": "piano ballad C major", "config": {"length": 2}}
SRC = Path(__file__).resolve().parents[1] / "src"
MUSIC_OPTIONS = {"text": "piano", "length": 2, "seed": 1}
TESTS = Path(__file__).resolve().parent


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape by (name, labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def _ledger_counts(ctx: Context, after_id: int) -> dict[str, int]:
    with ctx.db.read() as session:
        rows = session.execute(
            select(LedgerEntry.kind, func.count())
            .where(LedgerEntry.id > after_id)
            .group_by(LedgerEntry.kind)
        ).all()
    return {kind: count for kind, count in rows}


def _last_ledger_id(ctx: Context) -> int:
    with ctx.db.read() as session:
        return int(session.scalar(select(func.max(LedgerEntry.id))) or 0)


def test_real_orders_are_counted_by_type_status_and_queue(
    client: TestClient, ctx: Context, user: User, worker: Worker
) -> None:
    before, first_entry = scrape(client), _last_ledger_id(ctx)
    for _ in range(3):
        created = client.post("/v1/textToMusic", json=MUSIC, headers={"key": user.key})
        assert created.status_code == 201, created.text

    queued = scrape(client)
    depth = dict(queue="cpu", type="text-to-music", status="pending")
    assert value(queued, "yinzi_queue_depth", **depth) == 3
    assert value(queued, "yinzi_queue_depth_up") == 1
    created_delta = value(queued, "yinzi_orders_created_total", type="text-to-music") - value(
        before, "yinzi_orders_created_total", type="text-to-music"
    )
    assert created_delta == 3

    assert worker.run_once() and worker.run_once()  # two finish
    worker.ctx.settings.music_engine = "music.nothing"
    assert drain(worker) == 1  # the third fails: no such engine
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "yinzi_queue_depth", **depth) == 0
    assert delta("yinzi_orders_ended_total", type="text-to-music", status="finish") == 2
    assert delta("yinzi_orders_ended_total", type="text-to-music", status="failed") == 1
    finish = dict(type="text-to-music", status="finish")
    assert delta("yinzi_order_duration_seconds_count", **finish) == 2
    assert delta("yinzi_order_duration_seconds_sum", **finish) > 0
    assert delta("yinzi_order_duration_seconds_count", type="text-to-music", status="failed") == 1
    assert delta("yinzi_engine_seconds_count", type="text-to-music") == 3
    ledger = _ledger_counts(ctx, first_entry)
    assert ledger and set(ledger) >= {"hold", "capture"}
    for kind, count in ledger.items():
        assert delta("yinzi_credit_movements_total", kind=kind) == count, kind
    assert delta("yinzi_credits_moved_total", kind="capture") > 0


def test_a_rolled_back_order_is_not_counted(client: TestClient, ctx: Context, user: User) -> None:
    before = scrape(client)
    with pytest.raises(RuntimeError), ctx.db.write() as session:
        account = accounts.find(session, user.email)
        orders.create(session, ctx.settings, account, "text-to-music", "", MUSIC_OPTIONS, hold=2)
        raise RuntimeError("the request failed after the order was written")
    after = scrape(client)
    for name, labels in [
        ("yinzi_orders_created_total", {"type": "text-to-music"}),
        ("yinzi_credit_movements_total", {"kind": "hold"}),
    ]:
        assert value(after, name, **labels) == value(before, name, **labels)


def test_callback_outcomes_are_counted(client: TestClient, ctx: Context, user: User) -> None:
    delivered, refused = Receiver([200]), Receiver([404])
    try:
        before = scrape(client)
        for receiver in (delivered, refused):
            with ctx.db.write() as session:
                account = accounts.find(session, user.email)
                source = "https://example.com/a.mp3"
                order = orders.create(
                    session,
                    ctx.settings,
                    account,
                    "separate_vocal",
                    source,
                    {},
                    callback_url=receiver.url,
                )
            claimed = orders.claim(ctx.db, ctx.settings, order.order_no)
            assert claimed is not None
            orders.fail(ctx.db, order.order_no, claimed[1], "the engine failed")
        assert callbacks.deliver_due(ctx) == 2
        after = scrape(client)
    finally:
        delivered.close()
        refused.close()
    for outcome in ("delivered", "failed"):
        moved = value(after, "yinzi_callbacks_total", outcome=outcome) - value(
            before, "yinzi_callbacks_total", outcome=outcome
        )
        assert moved == 1, outcome


def test_the_metrics_token_is_required_when_set(tmp_path: Path, ctx: Context) -> None:
    from yinzi.app import create_app

    settings = make_settings(tmp_path, metrics_token="scrape-token-1")
    with TestClient(create_app(settings, ctx=ctx)) as test_client:
        missing = test_client.get("/metrics")
        wrong = test_client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = test_client.get("/metrics", headers={"Authorization": "Bearer scrape-token-1"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "scrape-token-1" not in missing.text
    assert right.status_code == 200 and "yinzi_queue_depth_up 1.0" in right.text


WORKER_PROCESS = """
from datetime import timedelta
from pathlib import Path
from helpers import make_settings, new_user
from yinzi.context import Context
from yinzi.db.migrate import upgrade
from yinzi.queue.embedded import Worker
from yinzi.services import accounts, orders

settings = make_settings(Path({tmp!r}))
settings.data_dir.mkdir(parents=True, exist_ok=True)
upgrade(settings.db_url)
ctx = Context.build(settings)
user = new_user(ctx)
with ctx.db.write() as session:
    account = accounts.find(session, user.email)
    options = {{"text": "piano", "length": 2, "seed": 1}}
    orders.create(session, settings, account, "text-to-music", "", options, hold=2)
worker = Worker(settings)
assert worker.run_once()
"""

API_PROCESS = """
from datetime import timedelta
from pathlib import Path
from fastapi.testclient import TestClient
from helpers import make_settings
from yinzi.app import create_app

with TestClient(create_app(make_settings(Path({tmp!r})))) as client:
    print(client.get("/metrics").text)
"""


def test_multiprocess_mode_sums_every_process(tmp_path: Path) -> None:
    """A worker process runs an order; a separate API process's scrape shows it."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
        "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
    }
    for script in (WORKER_PROCESS, API_PROCESS):
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script.format(tmp=str(tmp_path)))],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    scraped = samples(done.stdout)
    assert value(scraped, "yinzi_orders_created_total", type="text-to-music") == 1
    assert value(scraped, "yinzi_orders_ended_total", type="text-to-music", status="finish") == 1
    count = value(
        scraped, "yinzi_order_duration_seconds_count", type="text-to-music", status="finish"
    )
    assert count == 1
    host = socket.gethostname().replace("_", "-")
    files = [path.name for path in shared.iterdir()]
    assert files and all(name.endswith(".db") and f"_{host}-" in name for name in files), files


def test_an_order_past_its_deadline_is_counted_as_timeout(
    client: TestClient, ctx: Context, user: User
) -> None:
    before = scrape(client)
    with ctx.db.write() as session:
        account = accounts.find(session, user.email)
        order = orders.create(session, ctx.settings, account, "text-to-music", "", {}, hold=2)
        order.deadline_at = order.created_at - timedelta(seconds=1)
    assert orders.expire_overdue(ctx.db, ctx.settings) == [order.order_no]
    after = scrape(client)
    labels = {"type": "text-to-music", "status": "timeout"}
    ended = value(after, "yinzi_orders_ended_total", **labels)
    assert ended - value(before, "yinzi_orders_ended_total", **labels) == 1
    released = value(after, "yinzi_credits_moved_total", kind="release")
    assert released - value(before, "yinzi_credits_moved_total", kind="release") == 2


def _depth_queries(ctx: Context) -> list[str]:
    """The queue-depth statements run on ``ctx``'s database from now on."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "GROUP BY" in statement and "count(" in statement.lower():
            seen.append(statement)

    event.listen(ctx.db.engine, "before_cursor_execute", record)
    return seen


def _age_pending_orders(ctx: Context, status: str) -> None:
    """Change orders as another process would: in the database, past this process's hooks."""
    with ctx.db.write() as session:
        session.execute(update(Order).values(status=status))


def test_scrapes_share_one_depth_count_for_a_while(
    client: TestClient, ctx: Context, user: User
) -> None:
    created = client.post("/v1/textToMusic", json=MUSIC, headers={"key": user.key})
    assert created.status_code == 201
    queries = _depth_queries(ctx)
    pending = dict(queue="cpu", type="text-to-music", status="pending")
    scrapes = [scrape(client) for _ in range(5)]
    assert len(queries) == 1
    assert all(value(s, "yinzi_queue_depth", **pending) == 1 for s in scrapes)
    _age_pending_orders(ctx, "processing")  # another process claims it: not seen yet
    assert value(scrape(client), "yinzi_queue_depth", **pending) == 1
    assert len(queries) == 1
    client.post("/v1/textToMusic", json=MUSIC, headers={"key": user.key})  # this process's own
    fresh = scrape(client)
    assert len(queries) == 2
    assert value(fresh, "yinzi_queue_depth", **pending) == 1
    assert value(fresh, "yinzi_queue_depth", **{**pending, "status": "processing"}) == 1


def test_a_cached_depth_is_counted_again_once_it_expires(ctx: Context, user: User) -> None:
    with ctx.db.write() as session:
        account = accounts.find(session, user.email)
        orders.create(session, ctx.settings, account, "text-to-music", "", MUSIC_OPTIONS, hold=2)
    depth = metrics.QueueDepth(ctx.db, cache_seconds=0.3)
    first = depth.rows()
    assert [row[2:] for row in first] == [("pending", 1)]
    _age_pending_orders(ctx, "processing")
    assert depth.rows() == first
    time.sleep(0.35)
    assert [row[2:] for row in depth.rows()] == [("processing", 1)]
    assert metrics.DEPTH_CACHE_SECONDS == 2.0
