"""Console passwords: argon2 hashes, sign-in with a lockout, and one-time set-password links.

Invariants:

- Only argon2 hashes are stored (``Account.password_hash``); a hash made with older parameters
  is replaced at the next successful sign-in.
- A refused sign-in says the same thing, after the same work (one argon2 verification), whether
  the email is unknown, the password wrong, the account without a password or disabled; so the
  form never tells whether an email has an account.
- Failures are counted per email and per client address over the last
  ``settings.console.lockout_minutes``; at ``sign_in_attempts`` failures either one is locked
  (even with the right password) until old failures leave that window. A successful sign-in
  clears its email's failures.
- A set-password link holds a random token of which only the SHA-256 is stored; it works once,
  before it expires.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from yinzi.db import utcnow
from yinzi.db.models import Account, PasswordToken, SignInAttempt
from yinzi.errors import BadRequest, NotFound, SignInLocked, SignInRefused
from yinzi.settings import Settings

MIN_CHARS = 8
MAX_CHARS = 200
MAX_EMAIL_CHARS = 320
MAX_TOKEN_CHARS = 100


class LinkInvalid(BadRequest):
    """This link is not valid: it was used already, it expired, or it was never issued."""

    code = "password_link_invalid"


@cache
def hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no account, so that path costs the same."""
    return hasher().hash(secrets.token_urlsafe(16))


def check_strength(password: str) -> None:
    """BadRequest unless ``password`` has from MIN_CHARS to MAX_CHARS characters."""
    if len(password) < MIN_CHARS:
        raise BadRequest(f"The password must have at least {MIN_CHARS} characters.")
    if len(password) > MAX_CHARS:
        raise BadRequest(f"The password must have at most {MAX_CHARS} characters.")


def set_password(session: Session, account_id: int, password: str) -> None:
    check_strength(password)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}")
    account.password_hash = hasher().hash(password)
    session.flush()


def verify(account: Account, password: str) -> bool:
    """Whether ``password`` is the account's; rehashes it when the parameters changed."""
    stored = account.password_hash
    if stored is None or len(password) > MAX_CHARS:
        _spend_a_verification(password)
        return False
    try:
        hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher().check_needs_rehash(stored):
        account.password_hash = hasher().hash(password)
    return True


def _spend_a_verification(password: str) -> None:
    try:
        hasher().verify(_dummy_hash(), password[:MAX_CHARS])
    except VerificationError:
        pass


def sign_in(
    session: Session, email: str, password: str, address: str, settings: Settings
) -> Account:
    """The account whose email and password these are; else SignInRefused or SignInLocked.

    A refusal commits the failure it records before raising, so that a caller's rollback keeps
    it counted.
    """
    email = email.strip().lower()[:MAX_EMAIL_CHARS]
    address = address[:64]
    console = settings.console
    since = utcnow() - timedelta(minutes=console.lockout_minutes)
    if _failures(session, email, address, since) >= console.sign_in_attempts:
        raise SignInLocked(retry_after=int(console.lockout_minutes * 60))
    account = session.execute(select(Account).where(Account.email == email)).scalar_one_or_none()
    if account is None:
        _spend_a_verification(password)
    elif verify(account, password) and account.disabled_at is None:
        session.execute(delete(SignInAttempt).where(SignInAttempt.email == email))
        session.flush()
        return account
    session.add(SignInAttempt(email=email, address=address))
    session.commit()
    raise SignInRefused()


def _failures(session: Session, email: str, address: str, since: datetime) -> int:
    """The larger of the email's and the address's failures since ``since``."""
    recent = SignInAttempt.created_at > since
    by_email = select(func.count()).where(SignInAttempt.email == email, recent)
    by_address = select(func.count()).where(SignInAttempt.address == address, recent)
    return max(
        int(session.execute(by_email).scalar_one()),
        int(session.execute(by_address).scalar_one()),
    )


def purge_attempts(session: Session, settings: Settings) -> int:
    """Delete failures too old to count any more; returns how many."""
    since = utcnow() - timedelta(minutes=settings.console.lockout_minutes)
    result = session.execute(delete(SignInAttempt).where(SignInAttempt.created_at <= since))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(session: Session, account_id: int, hours: float = 24) -> str:
    """A new one-time set-password token for the account (shown once; only its hash is kept)."""
    if session.get(Account, account_id) is None:
        raise NotFound(f"no account with id {account_id}")
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordToken(
            token_hash=_hash(token),
            account_id=account_id,
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def link_account(session: Session, token: str) -> Account:
    """The account a live link is for; LinkInvalid when it is used, expired or unknown."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise LinkInvalid()
    row = session.execute(
        select(PasswordToken, Account)
        .join(Account, Account.id == PasswordToken.account_id)
        .where(
            PasswordToken.token_hash == _hash(token),
            PasswordToken.used_at.is_(None),
            PasswordToken.expires_at > utcnow(),
        )
    ).one_or_none()
    if row is None:
        raise LinkInvalid()
    return row[1]


def use_link(session: Session, token: str, password: str) -> Account:
    """Set the password of the link's account and spend the link (every other link of the
    account too); returns the account."""
    account = link_account(session, token)
    set_password(session, account.id, password)
    now = utcnow()
    spent = session.execute(
        update(PasswordToken)
        .where(PasswordToken.token_hash == _hash(token), PasswordToken.used_at.is_(None))
        .values(used_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if spent != 1:
        raise LinkInvalid()
    session.execute(
        update(PasswordToken)
        .where(PasswordToken.account_id == account.id, PasswordToken.used_at.is_(None))
        .values(used_at=now)
    )
    return account


def has_password(session: Session, account_id: int) -> bool:
    account = session.get(Account, account_id)
    return account is not None and account.password_hash is not None


def change_password(session: Session, account_id: int, current: str, new: str) -> None:
    """Replace the password after checking the current one (BadRequest when it is wrong)."""
    account = session.get(Account, account_id)
    if account is None or not verify(account, current):
        raise BadRequest("The current password is wrong.")
    set_password(session, account_id, new)
