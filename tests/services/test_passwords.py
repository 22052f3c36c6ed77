"""Console passwords: hashing, the sign-in lockout, one-time links, and key bookkeeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from yinzi.context import Context
from yinzi.db import utcnow
from yinzi.db.models import Account, ApiKey, PasswordToken, SignInAttempt
from yinzi.errors import BadRequest, SignInLocked, SignInRefused, Unauthorized
from yinzi.services import accounts, passwords

from helpers import User

PASSWORD = "correct horse battery staple"


def _with_password(ctx: Context, user: User) -> None:
    with ctx.db.write() as s:
        passwords.set_password(s, user.id, PASSWORD)


def _sign_in(ctx: Context, email: str, password: str, address: str = "10.0.0.1") -> Account:
    return passwords.sign_in(ctx.db, email, password, address, ctx.settings)


def test_only_an_argon2_hash_is_stored(ctx: Context, user: User) -> None:
    _with_password(ctx, user)
    with ctx.db.read() as s:
        stored = accounts.by_id(s, user.id).password_hash
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert _sign_in(ctx, user.email.upper(), PASSWORD).id == user.id


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "The password must have at least 8 characters."),
        ("x" * 201, "The password must have at most 200 characters."),
    ],
)
def test_a_password_too_short_or_too_long_is_refused_clearly(
    ctx: Context, user: User, password: str, message: str
) -> None:
    with ctx.db.write() as s, pytest.raises(BadRequest) as refused:
        passwords.set_password(s, user.id, password)
    assert refused.value.message == message


def test_every_refusal_says_the_same_thing(ctx: Context, user: User) -> None:
    _with_password(ctx, user)
    with ctx.db.write() as s:
        other, _ = accounts.create_account(s, "nopass@example.com")
        disabled, _ = accounts.create_account(s, "off@example.com")
        passwords.set_password(s, disabled.id, PASSWORD)
        accounts.by_id(s, disabled.id).disabled_at = utcnow()
    messages = set()
    for email, password in [
        (user.email, "wrong password"),
        ("nobody@example.com", PASSWORD),
        (other.email, PASSWORD),
        (disabled.email, PASSWORD),
    ]:
        with pytest.raises(SignInRefused) as refused:
            _sign_in(ctx, email, password, address=email)
        messages.add(refused.value.message)
    assert messages == {"Wrong email or password."}


def test_failures_lock_an_email_even_for_the_right_password_then_success_clears_them(
    ctx: Context, user: User
) -> None:
    _with_password(ctx, user)
    attempts = ctx.settings.console.sign_in_attempts
    for n in range(attempts):
        with pytest.raises(SignInRefused):
            _sign_in(ctx, user.email, "wrong password", address=f"10.0.0.{n}")
    with pytest.raises(SignInLocked) as locked:
        _sign_in(ctx, user.email, PASSWORD, address="10.9.9.9")
    assert locked.value.message == "Too many failed sign-ins. Wait a few minutes and try again."
    with pytest.raises(SignInLocked):  # an unknown email locks the same way
        for _ in range(attempts + 1):
            try:
                _sign_in(ctx, "ghost@example.com", "x" * 8, address="10.1.1.1")
            except SignInRefused:
                pass
    with ctx.db.write() as s:  # the window passes
        s.execute(update(SignInAttempt).values(created_at=utcnow() - timedelta(days=1)))
    assert _sign_in(ctx, user.email, PASSWORD, address="10.9.9.9").id == user.id


def test_an_address_is_locked_after_failures_on_many_emails(ctx: Context, user: User) -> None:
    _with_password(ctx, user)
    for n in range(ctx.settings.console.sign_in_attempts):
        with pytest.raises(SignInRefused):
            _sign_in(ctx, f"guess{n}@example.com", "wrong password", address="192.0.2.7")
    with pytest.raises(SignInLocked):
        _sign_in(ctx, user.email, PASSWORD, address="192.0.2.7")
    assert _sign_in(ctx, user.email, PASSWORD, address="192.0.2.8").id == user.id


def test_a_set_password_link_works_once_and_stores_only_a_hash(ctx: Context, user: User) -> None:
    with ctx.db.write() as s:
        token = passwords.issue_link(s, user.id)
    with ctx.db.read() as s:
        assert all(row.token_hash != token for row in s.query(PasswordToken))
    passwords.use_link(ctx.db, token, PASSWORD)
    assert _sign_in(ctx, user.email, PASSWORD).id == user.id
    with pytest.raises(passwords.LinkInvalid):
        passwords.use_link(ctx.db, token, "another password")


def test_an_expired_link_is_refused(ctx: Context, user: User) -> None:
    with ctx.db.write() as s:
        token = passwords.issue_link(s, user.id, hours=-1)
    with pytest.raises(passwords.LinkInvalid):
        passwords.use_link(ctx.db, token, PASSWORD)


def test_a_disabled_accounts_keys_stop_working(ctx: Context, user: User) -> None:
    with ctx.db.write() as s:
        accounts.by_id(s, user.id).disabled_at = utcnow()
    with ctx.db.read() as s, pytest.raises(Unauthorized):
        accounts.authenticate(s, user.key)


def test_last_used_is_written_at_most_once_a_minute(ctx: Context, user: User) -> None:
    def last_used() -> object:
        with ctx.db.read() as s:
            return s.query(ApiKey).filter_by(account_id=user.id).one().last_used_at

    assert last_used() is None
    with ctx.db.read() as s:
        accounts.authenticate(s, user.key)
    first = last_used()
    assert first is not None
    with ctx.db.read() as s:
        accounts.authenticate(s, user.key)
    assert last_used() == first  # within the minute: nothing written
    with ctx.db.write() as s:
        s.execute(update(ApiKey).values(last_used_at=utcnow() - timedelta(minutes=2)))
    with ctx.db.write() as s:  # inside a write transaction too
        accounts.authenticate(s, user.key)
    later = last_used()
    assert isinstance(later, type(first)) and later > utcnow() - timedelta(seconds=30)


def test_old_failures_are_purged(ctx: Context, user: User) -> None:
    with pytest.raises(SignInRefused):
        _sign_in(ctx, user.email, "wrong password")
    with ctx.db.write() as s:
        assert passwords.purge_attempts(s, ctx.settings) == 0  # still counted
        s.execute(update(SignInAttempt).values(created_at=utcnow() - timedelta(days=1)))
        assert passwords.purge_attempts(s, ctx.settings) == 1


def test_links_that_cannot_work_any_more_are_purged(ctx: Context, user: User) -> None:
    with ctx.db.write() as s:
        used = passwords.issue_link(s, user.id)
        passwords.issue_link(s, user.id, hours=-1)
        live = passwords.issue_link(s, user.id)
    passwords.use_link(ctx.db, used, PASSWORD)  # spends every link of the account
    with ctx.db.write() as s:
        fresh = passwords.issue_link(s, user.id)
        assert passwords.purge_links(s) == 3
    with ctx.db.read() as s:
        assert passwords.link_account(s, fresh).id == user.id
        with pytest.raises(passwords.LinkInvalid):
            passwords.link_account(s, live)
        assert s.query(PasswordToken).count() == 1
