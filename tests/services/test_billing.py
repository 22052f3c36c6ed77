"""The ledger, as worked examples, a property and a race.

Prices in these stories: the separation types hold a minimum of 10 credits and cost 5 credits
per started minute, so a 3-minute song costs 15.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yinzi.db import Database
from yinzi.db.migrate import upgrade
from yinzi.db.models import Account, LedgerEntry, Order
from yinzi.errors import InsufficientCredits
from yinzi.services import accounts, billing


@pytest.fixture
def db(backend_url: str) -> Database:
    upgrade(backend_url)
    database = Database(backend_url)
    yield database  # type: ignore[misc]
    database.dispose()


def _account(session: Session, credits: int) -> Account:
    account, _ = accounts.create_account(session, "someone@example.com", credits=credits)
    return account


def _order(session: Session, account: Account, no: str) -> Order:
    from yinzi.db import utcnow

    order = Order(
        order_no=no,
        account_id=account.id,
        order_type="track-separation",
        status="pending",
        pay_status="waiting",
        message_id=no,
        source="https://example.com/a.mp3",
        options={},
        held=0,
        deadline_at=utcnow(),
    )
    session.add(order)
    session.flush()
    return order


def _assert_balanced(session: Session, account_id: int) -> None:
    assert billing.balance(session, account_id) == billing.ledger_totals(session, account_id)
    held_by_orders = session.execute(
        select(func.coalesce(func.sum(Order.held), 0)).where(Order.account_id == account_id)
    ).scalar_one()
    assert billing.balance(session, account_id).held == held_by_orders


def test_a_finished_order_pays_its_real_price_and_releases_the_rest(db: Database) -> None:
    with db.write() as s:
        acc = _account(s, 100)
        order = _order(s, acc, "o1")
        billing.hold(s, order, 10)  # create: the minimum
        assert billing.balance(s, acc.id) == billing.BalanceView(available=90, held=10)
        billing.hold_up_to(s, order, 25)  # probed: a 5-minute input
        assert billing.balance(s, acc.id) == billing.BalanceView(available=75, held=25)
        billing.hold_up_to(s, order, 25)  # a re-run after a crash holds nothing twice
        assert billing.balance(s, acc.id) == billing.BalanceView(available=75, held=25)
        billing.capture(s, order, 15)
        assert billing.balance(s, acc.id) == billing.BalanceView(available=85, held=0)
        assert (order.cost, order.pay_status, order.held) == (15, "paid", 0)
        _assert_balanced(s, acc.id)


def test_a_failed_order_gets_everything_back(db: Database) -> None:
    with db.write() as s:
        acc = _account(s, 30)
        order = _order(s, acc, "o1")
        billing.hold(s, order, 10)
        billing.hold_up_to(s, order, 30)
        assert billing.balance(s, acc.id).available == 0
        billing.release(s, order)
        assert billing.balance(s, acc.id) == billing.BalanceView(available=30, held=0)
        assert (order.cost, order.pay_status) == (0, "refunded")
        _assert_balanced(s, acc.id)


def test_raising_a_hold_beyond_the_balance_is_refused_and_changes_nothing(db: Database) -> None:
    with db.write() as s:
        acc = _account(s, 12)
        order = _order(s, acc, "o1")
        billing.hold(s, order, 10)
    with pytest.raises(InsufficientCredits, match="USER_BLANCE_NOT_ENOUGH"), db.write() as s:
        order = s.get(Order, "o1")
        assert order is not None
        billing.hold_up_to(s, order, 15)
    with db.read() as s:
        assert billing.balance(s, acc.id) == billing.BalanceView(available=2, held=10)
        _assert_balanced(s, acc.id)


def test_a_real_time_charge_and_its_refund(db: Database) -> None:
    with db.write() as s:
        acc = _account(s, 5)
        billing.charge(s, acc.id, 5, "analyze-1")
        assert billing.balance(s, acc.id).available == 0
        with pytest.raises(InsufficientCredits):
            billing.charge(s, acc.id, 1, "analyze-2")
        billing.refund(s, acc.id, 5, "analyze-1")
        assert billing.balance(s, acc.id).available == 5
        _assert_balanced(s, acc.id)


def test_the_database_itself_refuses_a_negative_balance(db: Database) -> None:
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from yinzi.db.models import Balance

    with db.write() as s:
        acc = _account(s, 5)
    with pytest.raises(IntegrityError), db.write() as s:
        s.execute(update(Balance).where(Balance.account_id == acc.id).values(available=-1))


def test_the_ledger_is_append_only_history(db: Database) -> None:
    with db.write() as s:
        acc = _account(s, 50)
        order = _order(s, acc, "o1")
        billing.hold(s, order, 10)
        billing.hold_up_to(s, order, 20)
        billing.capture(s, order, 20)
    with db.read() as s:
        kinds = s.execute(
            select(LedgerEntry.kind)
            .where(LedgerEntry.account_id == acc.id)
            .order_by(LedgerEntry.id)
        ).scalars()
        assert list(kinds) == ["grant", "hold", "hold", "capture"]


ops = st.lists(
    st.tuples(
        st.sampled_from(["hold", "raise", "capture", "release", "charge", "refund", "grant"]),
        st.integers(0, 3),  # which order
        st.integers(0, 60),  # amount
    ),
    max_size=40,
)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=ops)
def test_the_ledger_always_balances(tmp_path: Path, steps: list[tuple[str, int, int]]) -> None:
    db = Database("sqlite://")
    from yinzi.db.models import Base

    Base.metadata.create_all(db.engine)
    granted, charged = 100, 0
    with db.write() as s:
        acc = _account(s, 100)
        ords = [_order(s, acc, f"o{i}") for i in range(4)]
        for op, i, amount in steps:
            order = ords[i]
            try:
                with s.begin_nested():
                    if op == "hold":
                        billing.hold(s, order, amount)
                    elif op == "raise":
                        billing.hold_up_to(s, order, amount)
                    elif op == "capture":
                        spend = min(amount, order.held)
                        billing.capture(s, order, spend)
                        charged += spend
                    elif op == "release":
                        billing.release(s, order)
                    elif op == "charge":
                        billing.charge(s, acc.id, amount, "rt")
                        charged += amount
                    elif op == "refund" and charged >= amount:
                        billing.refund(s, acc.id, amount, "rt")
                        charged -= amount
                    elif op == "grant" and amount:
                        billing.grant(s, acc.id, amount)
                        granted += amount
            except InsufficientCredits:
                pass
            bal = billing.balance(s, acc.id)
            assert bal.available >= 0 and bal.held >= 0
            _assert_balanced(s, acc.id)
            # conservation: every credit granted is available, held or spent
            assert bal.available + bal.held + charged == granted
    db.dispose()


def test_a_revoke_takes_available_credits_back_and_never_goes_below_zero(db: Database) -> None:
    with db.write() as s:
        acc = _account(s, 20)
        order = _order(s, acc, "o1")
        billing.hold(s, order, 15)
        with pytest.raises(InsufficientCredits, match="the available balance is 5"):
            billing.revoke(s, acc.id, 6)
        billing.revoke(s, acc.id, 5, note="taken back")
        assert billing.balance(s, acc.id) == billing.BalanceView(available=0, held=15)
        assert billing.entries(s, acc.id)[-1].kind == "revoke"
        with pytest.raises(ValueError):
            billing.revoke(s, acc.id, 0)
        _assert_balanced(s, acc.id)
