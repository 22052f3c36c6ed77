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
- Setting a password through a link or changing it ends the account's console sessions (but the
  one changing it).
- Argon2 work (about 0.1 s a hash) never runs inside a write transaction: SQLite has one writer,
  and a sign-in form anyone can post must not hold it. :func:`sign_in`, :func:`use_link` and
  :func:`change_password` take the database and read, hash, then write briefly.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from yinzi.db import Database, utcnow
from yinzi.db.models import Account, PasswordToken, SignInAttempt
from yinzi.errors import BadRequest, SignInLocked, SignInRefused
from yinzi.services import accounts, console_sessions
from yinzi.services.accounts import MAX_EMAIL_CHARS
from yinzi.settings import Settings

MIN_CHARS = 8
MAX_CHARS = 200
MAX_TOKEN_CHARS = 100
LINK_HOURS = 24
"""How long a set-password link works."""


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


def new_hash(password: str) -> str:
    """The hash to store for ``password`` (BadRequest when it is too short or too long)."""
    check_strength(password)
    return hasher().hash(password)


def store_hash(session: Session, account_id: int, digest: str) -> None:
    accounts.by_id(session, account_id).password_hash = digest
    session.flush()


def set_password(session: Session, account_id: int, password: str) -> None:
    """Hash and store in one go, for the command line (which holds no server's lock)."""
    store_hash(session, account_id, new_hash(password))


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (one argon2 verification either way)."""
    if stored is None or len(password) > MAX_CHARS:
        _spend_a_verification(password)
        return False
    try:
        return bool(hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def _spend_a_verification(password: str) -> None:
    try:
        hasher().verify(_dummy_hash(), password[:MAX_CHARS])
    except VerificationError:
        pass


def sign_in(db: Database, email: str, password: str, address: str, settings: Settings) -> Account:
    """The account whose email and password these are; else SignInRefused or SignInLocked.

    A hash made with older parameters is replaced on success; a refusal is recorded as a failure.
    """
    email = email.strip().lower()[:MAX_EMAIL_CHARS]
    address = address[:64]
    console = settings.console
    since = utcnow() - timedelta(minutes=console.lockout_minutes)
    with db.read() as session:
        if _failures(session, email, address, since) >= console.sign_in_attempts:
            raise SignInLocked(retry_after=int(console.lockout_minutes * 60))
        account = session.execute(
            select(Account).where(Account.email == email)
        ).scalar_one_or_none()
    stored = account.password_hash if account is not None else None
    if account is not None and verify(stored, password) and account.disabled_at is None:
        assert stored is not None
        rehashed = hasher().hash(password) if hasher().check_needs_rehash(stored) else None
        with db.write() as session:
            session.execute(delete(SignInAttempt).where(SignInAttempt.email == email))
            if rehashed is not None:
                store_hash(session, account.id, rehashed)
        return account
    if account is None:
        _spend_a_verification(password)
    with db.write() as session:
        session.add(SignInAttempt(email=email, address=address))
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


def purge_links(session: Session) -> int:
    """Delete set-password links that can no longer work (used, or expired); returns how many."""
    dead = or_(PasswordToken.used_at.is_not(None), PasswordToken.expires_at <= utcnow())
    result = session.execute(delete(PasswordToken).where(dead))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(session: Session, account_id: int, hours: float = LINK_HOURS) -> str:
    """A new one-time set-password token for the account (shown once; only its hash is kept)."""
    accounts.by_id(session, account_id)
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


def use_link(db: Database, token: str, password: str) -> Account:
    """Set the password of the link's account, spend the link (and every other link of the
    account) and end the account's console sessions; returns the account."""
    with db.read() as session:
        account_id = link_account(session, token).id
    digest = new_hash(password)
    with db.write() as session:
        now = utcnow()
        spent = session.execute(
            update(PasswordToken)
            .where(
                PasswordToken.token_hash == _hash(token),
                PasswordToken.used_at.is_(None),
                PasswordToken.expires_at > now,
            )
            .values(used_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if spent != 1:  # used by a concurrent request since it was read
            raise LinkInvalid()
        session.execute(
            update(PasswordToken)
            .where(PasswordToken.account_id == account_id, PasswordToken.used_at.is_(None))
            .values(used_at=now)
        )
        store_hash(session, account_id, digest)
        console_sessions.end_all(session, account_id)
        return accounts.by_id(session, account_id)


def change_password(
    db: Database, account_id: int, current: str, new: str, keep_session: str | None = None
) -> None:
    """Replace the password after checking the current one (BadRequest when it is wrong), and
    end the account's other console sessions (all but ``keep_session``, a session's hash)."""
    with db.read() as session:
        stored = accounts.by_id(session, account_id).password_hash
    if not verify(stored, current):
        raise BadRequest("The current password is wrong.")
    digest = new_hash(new)
    with db.write() as session:
        store_hash(session, account_id, digest)
        console_sessions.end_all(session, account_id, keep=keep_session)
