"""Administration, as worked examples: a small platform with two customers and an operator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from yinzi.db import Database, utcnow
from yinzi.db.migrate import upgrade
from yinzi.db.models import Account, ConsoleSession, LedgerEntry, Order
from yinzi.errors import BadRequest, InsufficientCredits, NotFound
from yinzi.services import accounts, admin, billing, console_sessions, orders
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


def _account(db: Database, email: str, credits: int = 0, *, is_admin: bool = False) -> Account:
    with db.write() as session:
        account, _ = accounts.create_account(session, email, credits=credits, is_admin=is_admin)
    return account


def _order(db: Database, settings: Settings, account: Account, order_type: str) -> Order:
    with db.write() as session:
        return orders.create(session, settings, account, order_type, URL, {"format": "mp3"})


def test_the_accounts_list_shows_balances_keys_and_orders(db: Database, settings: Settings) -> None:
    _account(db, "boss@example.com", is_admin=True)
    ann = _account(db, "ann@example.com", credits=100)
    _order(db, settings, ann, "track-separation")
    with db.write() as session:
        accounts.create_key(session, session.get(Account, ann.id), "laptop")  # type: ignore[arg-type]
        revoked = accounts.create_key(session, session.get(Account, ann.id))  # type: ignore[arg-type]
        accounts.revoke_key(session, revoked.id)
    with db.read() as session:
        rows, total = admin.accounts_page(session, 1, 50)
    assert total == 2
    assert [(r.email, r.is_admin) for r in rows] == [
        ("boss@example.com", True),
        ("ann@example.com", False),
    ]
    ann_row = rows[1]
    held = ann_row.held
    assert (ann_row.available + held, ann_row.keys, ann_row.orders) == (100, 2, 1)
    assert held > 0 and ann_row.disabled_at is None
    assert rows[0].orders == 0 and rows[0].keys == 1


def test_accounts_are_searched_by_email_and_paged(db: Database) -> None:
    for n in range(7):
        _account(db, f"user{n}@shop.example")
    _account(db, "someone@other.example")
    with db.read() as session:
        first, total = admin.accounts_page(session, 1, 5, "SHOP.example")
        second, _ = admin.accounts_page(session, 2, 5, "shop.example")
        none, nothing = admin.accounts_page(session, 1, 5, "%")
    assert total == 7 and len(first) == 5 and len(second) == 2
    assert {r.email for r in first + second} == {f"user{n}@shop.example" for n in range(7)}
    assert (none, nothing) == ([], 0)  # a wildcard is an ordinary character in a search


def test_an_operator_grants_and_revokes_credits_with_a_note(db: Database) -> None:
    ann = _account(db, "ann@example.com", credits=10)
    with db.write() as session:
        admin.grant(session, ann.id, 90, "refund for the outage")
        admin.revoke(session, ann.id, 30, "")
    with db.read() as session:
        assert billing.balance(session, ann.id).available == 70
        notes = session.execute(
            select(LedgerEntry.kind, LedgerEntry.available_delta, LedgerEntry.note)
            .where(LedgerEntry.account_id == ann.id)
            .order_by(LedgerEntry.id)
        ).all()
    assert notes[1:] == [
        ("grant", 90, "refund for the outage"),
        ("revoke", -30, "revoked by an administrator"),
    ]
    with db.write() as session, pytest.raises(InsufficientCredits):
        admin.revoke(session, ann.id, 71, "too much")
    for bad in (0, -5, admin.MAX_CREDITS + 1):
        with db.write() as session, pytest.raises(BadRequest):
            admin.grant(session, ann.id, bad, "")
    with db.write() as session, pytest.raises(BadRequest):
        admin.grant(session, ann.id, 1, "x" * (admin.MAX_NOTE_CHARS + 1))
    with db.write() as session, pytest.raises(NotFound):
        admin.grant(session, 999, 5, "")


def test_disabling_an_account_ends_its_sessions_but_never_the_operators_own(db: Database) -> None:
    boss = _account(db, "boss@example.com", is_admin=True)
    ann = _account(db, "ann@example.com")
    with db.write() as session:
        token, _ = console_sessions.start(session, session.get(Account, ann.id), 1)  # type: ignore[arg-type]
        console_sessions.start(session, session.get(Account, boss.id), 1)  # type: ignore[arg-type]
    with db.write() as session:
        admin.set_disabled(session, ann.id, True, actor_id=boss.id)
    with db.read() as session:
        assert admin.get_account(session, ann.id).disabled_at is not None
        assert console_sessions.find(session, token) is None
        left = session.execute(select(ConsoleSession.account_id)).scalars().all()
    assert left == [boss.id]
    with db.write() as session, pytest.raises(BadRequest, match="your own account"):
        admin.set_disabled(session, boss.id, True, actor_id=boss.id)
    with db.write() as session:
        admin.set_disabled(session, ann.id, False, actor_id=boss.id)
    with db.read() as session:
        assert admin.get_account(session, ann.id).disabled_at is None
        assert admin.get_account(session, boss.id).disabled_at is None


def test_a_new_account_starts_empty_with_a_key(db: Database) -> None:
    with db.write() as session:
        created = admin.create_account(session, " New@Example.com ", is_admin=True)
    with db.read() as session:
        row = admin.get_account(session, created.id)
    assert (row.email, row.is_admin, row.available, row.keys) == ("new@example.com", True, 0, 1)
    with db.write() as session, pytest.raises(BadRequest, match="already exists"):
        admin.create_account(session, "new@example.com")
    with db.write() as session, pytest.raises(BadRequest):
        admin.create_account(session, "a@" + "b" * accounts.MAX_EMAIL_CHARS)


def test_every_order_is_listed_with_its_account_and_filtered(
    db: Database, settings: Settings
) -> None:
    ann = _account(db, "ann@example.com", credits=500)
    bob = _account(db, "bob@example.com", credits=500)
    first = _order(db, settings, ann, "track-separation")
    _order(db, settings, ann, "extract-voice")
    last = _order(db, settings, bob, "track-separation")
    orders.cancel(db, bob, last.order_no)
    with db.read() as session:
        everything, total = admin.orders_page(session, 1, 50)
        failed, _ = admin.orders_page(session, 1, 50, status="failed")
        separations, _ = admin.orders_page(session, 1, 50, order_type="track-separation")
        anns, _ = admin.orders_page(session, 1, 50, email="ANN@")
        by_id, _ = admin.orders_page(session, 1, 50, account_id=bob.id)
        page_two, _ = admin.orders_page(session, 2, 2)
    assert total == 3
    assert {(r.email, r.order_type) for r in everything} == {
        ("ann@example.com", "track-separation"),
        ("ann@example.com", "extract-voice"),
        ("bob@example.com", "track-separation"),
    }
    assert [(r.order_no, r.email, r.reason) for r in failed] == [
        (last.order_no, "bob@example.com", orders.CANCELLED)
    ]
    assert {r.order_no for r in separations} == {first.order_no, last.order_no}
    assert {r.email for r in anns} == {"ann@example.com"} and len(anns) == 2
    assert [r.order_no for r in by_id] == [last.order_no]
    assert len(page_two) == 1


def test_the_queue_state_counts_running_pending_and_stalled_orders(
    db: Database, settings: Settings
) -> None:
    ann = _account(db, "ann@example.com", credits=500)
    with db.read() as session:
        idle = admin.queue_state(session)
    assert (idle.pending, idle.running, idle.stalled, idle.by_type) == (0, 0, 0, [])
    assert idle.oldest_pending_age is None and idle.last_claim_at is None
    made = [_order(db, settings, ann, kind) for kind in ("extract-voice", "extract-voice")]
    made.append(_order(db, settings, ann, "extract-music"))
    with db.write() as session:
        session.execute(
            update(Order)
            .where(Order.order_no == made[0].order_no)
            .values(created_at=utcnow() - timedelta(minutes=3))
        )
    claimed = orders.claim(db, settings, made[1].order_no)
    assert claimed is not None
    with db.read() as session:
        state = admin.queue_state(session)
    assert (state.pending, state.running, state.stalled) == (2, 1, 0)
    assert state.oldest_pending_age is not None
    assert timedelta(minutes=3) <= state.oldest_pending_age < timedelta(minutes=4)
    assert state.last_claim_at is not None
    assert [(t.order_type, t.pending, t.running) for t in state.by_type] == [
        ("extract-music", 1, 0),
        ("extract-voice", 1, 1),
    ]
    later = utcnow() + timedelta(seconds=settings.lease_seconds + 1)
    with db.read() as session:
        after_the_lease = admin.queue_state(session, now=later)
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 3
    assert (after_the_lease.running, after_the_lease.stalled) == (0, 1)
