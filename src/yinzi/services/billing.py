"""Credits: an append-only ledger and one function that moves money.

Invariant, for every account and at every commit:

    balances.available == Σ ledger.available_delta      (credits the account can spend)
    balances.held      == Σ ledger.held_delta           (credits reserved for running orders)
    balances.available >= 0 and balances.held >= 0      (CHECK constraints in the database)

and for every order, ``orders.held`` equals the held credits of its own entries. Only
:func:`_post` writes balances or the ledger; it updates the balance row with a guarded
``UPDATE ... WHERE available + delta >= 0`` in the caller's transaction, so two concurrent
requests can never both spend the same credits, on SQLite or PostgreSQL.

Entry kinds (available, held):

    grant    (+n,  0)   an administrator adds credits
    revoke   (-n,  0)   an administrator takes available credits back
    hold     (-n, +n)   reserve credits for an order
    capture  ( 0, -n)   an order finished: the held credits are spent
    release  (+n, -n)   give held credits back
    charge   (-n,  0)   spend at once (real-time endpoints)
    refund   (+n,  0)   give a charge back
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yinzi import metrics
from yinzi.db.models import Balance, LedgerEntry, Order
from yinzi.errors import InsufficientCredits


class PayStatus:
    WAITING = "waiting"  # credits are held; the order is not settled yet
    PAID = "paid"  # the order finished and its cost was captured
    REFUNDED = "refunded"  # the order failed or timed out; everything held was released


@dataclass(frozen=True)
class BalanceView:
    available: int
    held: int


def _post(
    session: Session,
    account_id: int,
    kind: str,
    *,
    available: int = 0,
    held: int = 0,
    order_no: str | None = None,
    note: str | None = None,
) -> None:
    """Move credits: the one place balances and the ledger are written."""
    guarded = (
        update(Balance)
        .where(
            Balance.account_id == account_id,
            Balance.available + available >= 0,
            Balance.held + held >= 0,
        )
        .values(available=Balance.available + available, held=Balance.held + held)
    )
    try:
        matched = session.execute(guarded).rowcount  # type: ignore[attr-defined]
    except IntegrityError as exc:
        raise InsufficientCredits() from exc
    if matched != 1:
        raise InsufficientCredits()
    session.add(
        LedgerEntry(
            account_id=account_id,
            order_no=order_no,
            kind=kind,
            available_delta=available,
            held_delta=held,
            note=note,
        )
    )
    metrics.credits_moved(session, kind, available, held)


def open_account(session: Session, account_id: int) -> None:
    session.add(Balance(account_id=account_id, available=0, held=0))
    session.flush()


def grant(session: Session, account_id: int, credits: int, note: str | None = None) -> None:
    if credits <= 0:
        raise ValueError("a grant must be positive")
    _post(session, account_id, "grant", available=credits, note=note)


def revoke(session: Session, account_id: int, credits: int, note: str | None = None) -> None:
    """Take ``credits`` back from the available balance; never below zero (held credits belong
    to running orders and are left alone)."""
    if credits <= 0:
        raise ValueError("a revoke must be positive")
    available = balance(session, account_id).available
    if credits > available:
        raise InsufficientCredits(
            f"cannot revoke {credits} credits: the available balance is {available}"
        )
    _post(session, account_id, "revoke", available=-credits, note=note)


def hold(session: Session, order: Order, credits: int) -> None:
    """Reserve ``credits`` more for ``order``; raises InsufficientCredits when short."""
    if credits < 0:
        raise ValueError("a hold must not be negative")
    if credits:
        _post(
            session,
            order.account_id,
            "hold",
            available=-credits,
            held=credits,
            order_no=order.order_no,
        )
        order.held += credits


def hold_up_to(session: Session, order: Order, target: int) -> None:
    """Raise the order's hold to ``target`` (idempotent: a re-run holds nothing twice)."""
    if target > order.held:
        hold(session, order, target - order.held)


def capture(session: Session, order: Order, cost: int) -> None:
    """Settle a finished order: spend ``cost`` of its hold and release the rest."""
    if not 0 <= cost <= order.held:
        raise ValueError(f"cannot capture {cost} from a hold of {order.held}")
    if cost:
        _post(session, order.account_id, "capture", held=-cost, order_no=order.order_no)
    rest = order.held - cost
    if rest:
        _post(
            session,
            order.account_id,
            "release",
            available=rest,
            held=-rest,
            order_no=order.order_no,
        )
    order.held = 0
    order.cost = cost
    order.pay_status = PayStatus.PAID


def release(session: Session, order: Order) -> None:
    """Settle a failed or timed-out order: give back everything it holds."""
    if order.held:
        _post(
            session,
            order.account_id,
            "release",
            available=order.held,
            held=-order.held,
            order_no=order.order_no,
        )
    order.held = 0
    order.cost = 0
    order.pay_status = PayStatus.REFUNDED


def charge(session: Session, account_id: int, credits: int, ref: str) -> None:
    """Spend at once (real-time endpoints); refunded with :func:`refund` on failure."""
    _post(session, account_id, "charge", available=-credits, order_no=ref)


def refund(session: Session, account_id: int, credits: int, ref: str) -> None:
    _post(session, account_id, "refund", available=credits, order_no=ref)


def balance(session: Session, account_id: int) -> BalanceView:
    row = session.get(Balance, account_id, populate_existing=True)
    if row is None:
        return BalanceView(0, 0)
    return BalanceView(row.available, row.held)


def entries(session: Session, account_id: int) -> list[LedgerEntry]:
    """Every ledger entry of an account, oldest first."""
    query = select(LedgerEntry).where(LedgerEntry.account_id == account_id).order_by(LedgerEntry.id)
    return list(session.execute(query).scalars())


@dataclass(frozen=True)
class LedgerLine:
    """One ledger entry with the account's available balance just after it."""

    entry: LedgerEntry
    available_after: int


def ledger_page(
    session: Session, account_id: int, number: int, size: int
) -> tuple[list[LedgerLine], int]:
    """One page of an account's ledger, newest first, each entry with the running available
    balance (the sum of the available deltas up to and including it), and the entry count."""
    running = func.sum(LedgerEntry.available_delta).over(order_by=LedgerEntry.id).label("running")
    numbered = (
        select(LedgerEntry.id, running).where(LedgerEntry.account_id == account_id).subquery()
    )
    rows = session.execute(
        select(LedgerEntry, numbered.c.running)
        .join(numbered, numbered.c.id == LedgerEntry.id)
        .order_by(LedgerEntry.id.desc())
        .offset((number - 1) * size)
        .limit(size)
    ).all()
    total = session.execute(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == account_id)
    ).scalar_one()
    return [LedgerLine(row[0], int(row[1])) for row in rows], int(total)


def returned(session: Session, order_no: str) -> int:
    """Credits given back to the account for ``order_no`` (its releases and refunds)."""
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.available_delta), 0)).where(
            LedgerEntry.order_no == order_no, LedgerEntry.kind.in_(("release", "refund"))
        )
    ).scalar_one()
    return int(total)


def ledger_totals(session: Session, account_id: int) -> BalanceView:
    """The balance recomputed from the ledger alone (for audits and tests)."""
    available, held = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.available_delta), 0),
            func.coalesce(func.sum(LedgerEntry.held_delta), 0),
        ).where(LedgerEntry.account_id == account_id)
    ).one()
    return BalanceView(int(available), int(held))
