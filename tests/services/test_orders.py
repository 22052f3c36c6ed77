"""Orders: creation with holds, the compare-and-set state machine, races and deadlines."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from yinzi.db import Database, utcnow
from yinzi.db.migrate import upgrade
from yinzi.db.models import Account, LedgerEntry, Order
from yinzi.errors import BadRequest, Cancelled, Conflict, InsufficientCredits
from yinzi.services import accounts, billing, orders
from yinzi.services.orders import CANCELLED, OrderStatus, StaleClaim
from yinzi.settings import Settings

from helpers import make_settings

URL = "https://example.com/song.mp3"


@pytest.fixture
def settings(tmp_path: Path, backend_url: str) -> Settings:
    return make_settings(tmp_path, database_url=backend_url, lease_seconds=5.0)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    upgrade(settings.db_url)
    database = Database(settings.db_url)
    yield database
    database.dispose()


def _account(db: Database, credits: int) -> Account:
    with db.write() as s:
        account, _ = accounts.create_account(s, "racer@example.com", credits=credits)
    return account


def _create(db: Database, settings: Settings, account: Account, **kw: str) -> Order:
    with db.write() as s:
        return orders.create(s, settings, account, "track-separation", URL, {"format": "mp3"}, **kw)


def test_concurrent_creates_never_overdraw(db: Database, settings: Settings) -> None:
    account = _account(db, 35)  # the minimum is 10: exactly three orders are affordable
    results: list[str] = []
    barrier = threading.Barrier(12)

    def attempt() -> None:
        barrier.wait()
        try:
            _create(db, settings, account)
            results.append("ok")
        except InsufficientCredits:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 3
    assert results.count("refused") == 9
    with db.read() as s:
        assert billing.balance(s, account.id) == billing.BalanceView(available=5, held=30)
        assert billing.ledger_totals(s, account.id) == billing.BalanceView(available=5, held=30)


def test_an_order_is_claimed_by_one_worker_only(db: Database, settings: Settings) -> None:
    order = _create(db, settings, _account(db, 100))
    first = orders.claim(db, settings, order.order_no)
    assert first is not None
    assert orders.claim(db, settings, order.order_no) is None


def test_a_stale_worker_cannot_settle_an_order(db: Database, settings: Settings) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    claimed = orders.claim(db, settings, order.order_no)
    assert claimed is not None
    _, stale_token = claimed
    # the lease runs out (the worker looks dead) and another worker takes the order
    with db.write() as s:
        s.execute(update(Order).values(lease_until=utcnow() - timedelta(seconds=1)))
    again = orders.claim(db, settings, order.order_no)
    assert again is not None
    _, fresh_token = again
    with pytest.raises(StaleClaim):
        orders.finish(db, settings, order.order_no, stale_token, [], 60.0)
    orders.finish(db, settings, order.order_no, fresh_token, [], 60.0)
    with pytest.raises(StaleClaim):
        orders.finish(db, settings, order.order_no, fresh_token, [], 60.0)
    with db.read() as s:
        captures = (
            s.execute(select(LedgerEntry).where(LedgerEntry.kind == "capture")).scalars().all()
        )
        assert len(captures) == 1
        assert billing.balance(s, account.id).available == 90


def test_the_hold_rises_to_the_real_price_once_the_duration_is_known(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    claimed = orders.claim(db, settings, order.order_no)
    assert claimed is not None
    price = orders.set_duration(db, settings, order.order_no, claimed[1], 181.0)  # 4 minutes
    assert price == 20
    with db.read() as s:
        assert billing.balance(s, account.id) == billing.BalanceView(available=80, held=20)


def test_overdue_orders_time_out_and_are_refunded(db: Database, settings: Settings) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    with db.write() as s:
        s.execute(update(Order).values(deadline_at=utcnow() - timedelta(seconds=1)))
    assert orders.expire_overdue(db, settings) == [order.order_no]
    with db.read() as s:
        ended = s.get(Order, order.order_no)
        assert ended is not None
        assert (ended.status, ended.pay_status, ended.cost) == ("timeout", "refunded", 0)
        assert ended.reason
        assert billing.balance(s, account.id) == billing.BalanceView(available=100, held=0)
    assert orders.claim(db, settings, order.order_no) is None


def test_an_order_whose_worker_keeps_dying_fails_after_max_attempts(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    for _ in range(settings.max_attempts):
        assert orders.claim(db, settings, order.order_no) is not None
        with db.write() as s:
            s.execute(update(Order).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert orders.claim(db, settings, order.order_no) is None
    assert orders.expire_overdue(db, settings) == [order.order_no]
    with db.read() as s:
        ended = s.get(Order, order.order_no)
        assert ended is not None and ended.status == OrderStatus.FAILED
        assert billing.balance(s, account.id).available == 100


def test_idempotency_key_returns_the_first_order_or_refuses_a_different_body(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 100)
    first = _create(db, settings, account, idempotency_key="k1", fingerprint="a")
    again = _create(db, settings, account, idempotency_key="k1", fingerprint="a")
    assert again.order_no == first.order_no
    with pytest.raises(Conflict):
        _create(db, settings, account, idempotency_key="k1", fingerprint="b")
    with db.read() as s:
        assert billing.balance(s, account.id).held == 10


def test_the_cost_follows_the_decoded_length_not_the_header(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    claimed = orders.claim(db, settings, order.order_no)
    assert claimed is not None
    orders.set_duration(db, settings, order.order_no, claimed[1], 30.0)  # the header says 30 s
    assert orders.finish(db, settings, order.order_no, claimed[1], [], 181.0) == 20  # 4 minutes
    with db.read() as s:
        assert billing.balance(s, account.id) == billing.BalanceView(available=80, held=0)


def test_a_file_longer_than_declared_that_the_balance_cannot_cover_does_not_finish(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 15)
    order = _create(db, settings, account)
    claimed = orders.claim(db, settings, order.order_no)
    assert claimed is not None
    with pytest.raises(InsufficientCredits):
        orders.finish(db, settings, order.order_no, claimed[1], [], 600.0)
    with db.read() as s:
        still = s.get(Order, order.order_no)
        assert still is not None and still.status == OrderStatus.PROCESSING
        assert billing.balance(s, account.id) == billing.BalanceView(available=5, held=10)
    orders.fail(db, order.order_no, claimed[1], "ErrorCode.USER_BLANCE_NOT_ENOUGH")
    with db.read() as s:
        assert billing.balance(s, account.id) == billing.BalanceView(available=15, held=0)


def _other_account(db: Database) -> Account:
    with db.write() as s:
        account, _ = accounts.create_account(s, "bystander@example.com", credits=100)
    return account


def test_claim_skips_an_account_at_its_limit_of_running_orders(
    db: Database, settings: Settings
) -> None:
    settings.max_running_orders_per_account = 2
    busy = _account(db, 100)
    first, second, third = (_create(db, settings, busy) for _ in range(3))
    other = _create(db, settings, _other_account(db))
    assert orders.claim(db, settings, first.order_no) is not None
    running = orders.claim(db, settings, second.order_no)
    assert running is not None
    # two of its orders run: the third waits, and another account's order is next in line
    assert orders.next_claimable(db, settings) == [other.order_no]
    assert orders.claim(db, settings, third.order_no) is None
    orders.finish(db, settings, second.order_no, running[1], [], 30.0)
    assert orders.next_claimable(db, settings) == [third.order_no, other.order_no]
    # an order whose worker went silent no longer counts; it is claimable again itself
    with db.write() as s:
        s.execute(
            update(Order)
            .where(Order.order_no == first.order_no)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert orders.claim(db, settings, third.order_no) is not None
    assert orders.claim(db, settings, first.order_no) is not None


def test_concurrent_claims_never_exceed_the_account_limit(db: Database, settings: Settings) -> None:
    settings.max_running_orders_per_account = 2
    account = _account(db, 1000)
    numbers = [_create(db, settings, account).order_no for _ in range(8)]
    claimed: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(order_no: str) -> None:
        barrier.wait()
        if orders.claim(db, settings, order_no) is not None:
            claimed.append(order_no)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 2


def test_the_account_limit_defaults_to_one_less_than_the_workers(tmp_path: Path) -> None:
    assert make_settings(tmp_path, workers=4).running_orders_limit == 3
    assert make_settings(tmp_path, workers=1).running_orders_limit == 1
    limited = make_settings(tmp_path, workers=4, max_running_orders_per_account=1)
    assert limited.running_orders_limit == 1


def _load(db: Database, order_no: str) -> Order:
    with db.read() as s:
        order = s.get(Order, order_no)
        assert order is not None
        return order


def test_a_cancelled_pending_order_ends_at_once_and_is_never_claimed(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    orders.cancel(db, account, order.order_no)
    ended = _load(db, order.order_no)
    assert (ended.status, ended.reason, ended.error_code) == ("failed", CANCELLED, "cancelled")
    assert (ended.pay_status, ended.stage) == ("refunded", "done")
    assert orders.claim(db, settings, order.order_no) is None
    with db.read() as s:
        assert billing.balance(s, account.id) == billing.BalanceView(available=100, held=0)
        assert billing.returned(s, order.order_no) == 10
    with pytest.raises(BadRequest, match=rf"order {order.order_no} has already ended \(failed\)"):
        orders.cancel(db, account, order.order_no)


def _claim_after(
    barrier: threading.Barrier,
    claimed: list[tuple[Order, str] | None],
    db: Database,
    settings: Settings,
    order_no: str,
) -> None:
    barrier.wait()
    claimed.append(orders.claim(db, settings, order_no))


def test_a_cancel_racing_a_claim_never_lets_the_order_run_unnoticed(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 1000)
    for _ in range(5):
        order = _create(db, settings, account)
        barrier = threading.Barrier(2)
        claimed: list[tuple[Order, str] | None] = []
        thread = threading.Thread(
            target=_claim_after, args=(barrier, claimed, db, settings, order.order_no)
        )
        thread.start()
        barrier.wait()
        orders.cancel(db, account, order.order_no)
        thread.join()
        after = _load(db, order.order_no)
        if claimed[0] is None:  # the cancel came first: the order ended before any work
            assert (after.status, after.reason) == ("failed", CANCELLED)
        else:  # the claim came first: its worker is told at its next progress write
            assert after.status == "processing" and after.cancel_requested
            token = claimed[0][1]
            assert orders.report_progress(db, settings, order.order_no, token, 30, "separating")
            with pytest.raises(Cancelled):
                orders.finish(db, settings, order.order_no, token, [], 60.0)
            orders.fail(db, order.order_no, token, CANCELLED, "cancelled")
    with db.read() as s:
        assert billing.balance(s, account.id) == billing.BalanceView(available=1000, held=0)


def test_progress_written_by_the_worker_never_goes_down(db: Database, settings: Settings) -> None:
    order = _create(db, settings, _account(db, 100))
    claimed = orders.claim(db, settings, order.order_no)
    assert claimed is not None
    token = claimed[1]
    assert not orders.report_progress(db, settings, order.order_no, token, 40, "separating")
    orders.report_progress(db, settings, order.order_no, token, 12, "fetching", renew=True)
    assert (_load(db, order.order_no).progress, _load(db, order.order_no).stage) == (
        40,
        "fetching",
    )
    orders.finish(db, settings, order.order_no, token, [], 60.0)
    assert (_load(db, order.order_no).progress, _load(db, order.order_no).stage) == (100, "done")


def test_a_cancelled_order_whose_worker_died_ends_as_cancelled(
    db: Database, settings: Settings
) -> None:
    account = _account(db, 100)
    order = _create(db, settings, account)
    assert orders.claim(db, settings, order.order_no) is not None
    orders.cancel(db, account, order.order_no)
    assert orders.expire_overdue(db, settings) == []  # its worker may still see the cancel
    with db.write() as s:
        s.execute(update(Order).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert orders.claim(db, settings, order.order_no) is None
    assert orders.expire_overdue(db, settings) == [order.order_no]
    ended = _load(db, order.order_no)
    assert (ended.status, ended.reason, ended.pay_status) == ("failed", CANCELLED, "refunded")


def test_pages_of_an_account_and_queue_positions(db: Database, settings: Settings) -> None:
    account = _account(db, 1000)
    made = [_create(db, settings, account).order_no for _ in range(5)]
    assert orders.claim(db, settings, made[0]) is not None
    with db.read() as s:
        first, total = orders.page(s, account, 1, 3)
        last, _ = orders.page(s, account, 2, 3)
        running, _ = orders.page(s, account, 1, 10, status="processing")
        assert total == 5 and [o.order_no for o in first + last] == made[::-1]
        assert [o.order_no for o in running] == [made[0]]
        assert orders.page(s, account, 1, 10, order_type="extract-text") == ([], 0)
        positions = [orders.queue_position(s, o) for o in reversed(first + last)]
        assert positions == [None, 1, 2, 3, 4]
