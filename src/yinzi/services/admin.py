"""What administrators see and do: every account and order, credits, and the state of the queue.

Only the console's admin pages call this module, and only for a viewer who is an administrator
(``console.auth.AdminDep``); it never checks that itself. Credits move only through
:func:`billing.grant` and :func:`billing.revoke`, so the ledger's invariant holds. A disabled
account keeps its data; its console sessions end at once, and an administrator can never
disable their own account (there would be nobody left to enable it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Row, Select, case, func, select
from sqlalchemy.orm import Session

from yinzi.db import utcnow
from yinzi.db.models import Account, ApiKey, Balance, Order
from yinzi.errors import BadRequest, NotFound
from yinzi.services import accounts, billing, console_sessions, passwords
from yinzi.services.orders import OrderStatus

MAX_NOTE_CHARS = 200
MAX_CREDITS = 1_000_000_000
"""The most credits one grant or revoke moves (a typo guard, not a business rule)."""


@dataclass(frozen=True)
class AccountRow:
    id: int
    email: str
    is_admin: bool
    created_at: datetime
    disabled_at: datetime | None
    available: int
    held: int
    keys: int
    """API keys not revoked."""
    orders: int


@dataclass(frozen=True)
class NewAccount:
    id: int
    email: str
    link_token: str
    """A one-time set-password token, shown once."""


@dataclass(frozen=True)
class OrderRow:
    order_no: str
    account_id: int
    email: str
    order_type: str
    status: str
    stage: str
    progress: int
    held: int
    cost: int
    reason: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class TypeLoad:
    order_type: str
    pending: int
    running: int


@dataclass(frozen=True)
class QueueState:
    pending: int
    running: int
    """Processing under a current lease: a worker is on it now."""
    stalled: int
    """Processing whose lease expired: its worker stopped; the reaper hands it to another."""
    oldest_pending_at: datetime | None
    last_claim_at: datetime | None
    """When a worker last took an order: the latest sign of a live worker in the database."""
    last_finish_at: datetime | None
    by_type: list[TypeLoad]
    now: datetime

    @property
    def oldest_pending_age(self) -> timedelta | None:
        return None if self.oldest_pending_at is None else self.now - self.oldest_pending_at


def _key_count() -> ColumnElement[int]:
    return (
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.account_id == Account.id, ApiKey.revoked_at.is_(None))
        .correlate(Account)
        .scalar_subquery()
    )


def _order_count() -> ColumnElement[int]:
    return (
        select(func.count())
        .select_from(Order)
        .where(Order.account_id == Account.id)
        .correlate(Account)
        .scalar_subquery()
    )


def _accounts(*where: ColumnElement[bool]) -> Select[Account, int, int, int, int]:
    return (
        select(
            Account,
            func.coalesce(Balance.available, 0),
            func.coalesce(Balance.held, 0),
            _key_count(),
            _order_count(),
        )
        .outerjoin(Balance, Balance.account_id == Account.id)
        .where(*where)
    )


def _account_row(row: Row[Account, int, int, int, int]) -> AccountRow:
    account, available, held, keys, orders = row
    return AccountRow(
        account.id,
        account.email,
        account.is_admin,
        account.created_at,
        account.disabled_at,
        int(available),
        int(held),
        int(keys),
        int(orders),
    )


def accounts_page(
    session: Session, number: int, size: int, search: str = ""
) -> tuple[list[AccountRow], int]:
    """One page of accounts, oldest first, whose email contains ``search``; and the total."""
    where = [Account.email.contains(search.strip().lower(), autoescape=True)] if search else []
    total = session.execute(select(func.count()).select_from(Account).where(*where)).scalar_one()
    rows = session.execute(
        _accounts(*where).order_by(Account.id).offset((number - 1) * size).limit(size)
    )
    return [_account_row(row) for row in rows], int(total)


def get_account(session: Session, account_id: int) -> AccountRow:
    row = session.execute(_accounts(Account.id == account_id)).one_or_none()
    if row is None:
        raise NotFound(f"no account with id {account_id}")
    return _account_row(row)


def create_account(session: Session, email: str, *, is_admin: bool = False) -> NewAccount:
    """A new account (with no credits) and a one-time set-password token for it."""
    account, _key = accounts.create_account(session, email, is_admin=is_admin)
    return NewAccount(account.id, account.email, passwords.issue_link(session, account.id))


def set_disabled(session: Session, account_id: int, disabled: bool, *, actor_id: int) -> None:
    """Disable (ending its console sessions) or enable an account; never the actor's own."""
    account = accounts.by_id(session, account_id)
    if disabled and account_id == actor_id:
        raise BadRequest("you cannot disable your own account")
    if disabled:
        account.disabled_at = account.disabled_at or utcnow()
        console_sessions.end_all(session, account_id)
    else:
        account.disabled_at = None


def grant(session: Session, account_id: int, credits: int, note: str) -> None:
    """Add credits; a blank note is recorded as "granted by an administrator", as the CLI does."""
    _check_move(session, account_id, credits, note)
    billing.grant(session, account_id, credits, note=note or "granted by an administrator")


def revoke(session: Session, account_id: int, credits: int, note: str) -> None:
    """Take available credits back (InsufficientCredits when the balance is smaller)."""
    _check_move(session, account_id, credits, note)
    billing.revoke(session, account_id, credits, note=note or "revoked by an administrator")


def _check_move(session: Session, account_id: int, credits: int, note: str) -> None:
    if session.get(Account, account_id) is None:
        raise NotFound(f"no account with id {account_id}")
    if not 0 < credits <= MAX_CREDITS:
        raise BadRequest(f"credits must be a whole number from 1 to {MAX_CREDITS}")
    if len(note) > MAX_NOTE_CHARS:
        raise BadRequest(f"a note has at most {MAX_NOTE_CHARS} characters")


def order_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Order)).scalar_one())


def orders_page(
    session: Session,
    number: int,
    size: int,
    *,
    status: str | None = None,
    order_type: str | None = None,
    email: str = "",
    account_id: int | None = None,
) -> tuple[list[OrderRow], int]:
    """One page of every account's orders (or one account's), newest first, and how many match
    in all. ``email`` matches any part of the owner's address."""
    where: list[ColumnElement[bool]] = []
    if account_id is not None:
        where.append(Order.account_id == account_id)
    if status:
        where.append(Order.status == status)
    if order_type:
        where.append(Order.order_type == order_type)
    if email:
        where.append(Account.email.contains(email.strip().lower(), autoescape=True))
    joined = select(Order, Account.email).join(Account, Account.id == Order.account_id)
    total = session.execute(
        select(func.count())
        .select_from(Order)
        .join(Account, Account.id == Order.account_id)
        .where(*where)
    ).scalar_one()
    rows = session.execute(
        joined.where(*where)
        .order_by(Order.created_at.desc(), Order.order_no.desc())
        .offset((number - 1) * size)
        .limit(size)
    )
    return [_order_row(order, email) for order, email in rows], int(total)


def _order_row(order: Order, email: str) -> OrderRow:
    return OrderRow(
        order.order_no,
        order.account_id,
        email,
        order.order_type,
        order.status,
        order.stage,
        order.progress,
        order.held,
        order.cost,
        order.reason,
        order.created_at,
        order.finished_at,
    )


def queue_state(session: Session, now: datetime | None = None) -> QueueState:
    """Pending and processing orders, overall and per order type, as the orders table says."""
    now = now or utcnow()
    pending = Order.status == OrderStatus.PENDING
    processing = Order.status == OrderStatus.PROCESSING
    live = processing & (Order.lease_until >= now)
    stalled = processing & (Order.lease_until < now)

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    totals = session.execute(
        select(
            count(pending),
            count(live),
            count(stalled),
            func.min(case((pending, Order.created_at))),
            func.max(Order.started_at),
            func.max(Order.finished_at),
        )
    ).one()
    per_type = session.execute(
        select(Order.order_type, count(pending), count(processing))
        .where(pending | processing)
        .group_by(Order.order_type)
        .order_by(Order.order_type)
    )
    return QueueState(
        pending=int(totals[0]),
        running=int(totals[1]),
        stalled=int(totals[2]),
        oldest_pending_at=totals[3],
        last_claim_at=totals[4],
        last_finish_at=totals[5],
        by_type=[TypeLoad(name, int(p), int(r)) for name, p, r in per_type],
        now=now,
    )
