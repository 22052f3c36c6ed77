"""Accounts and API keys. Keys are shown once at creation and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yinzi.db import utcnow
from yinzi.db.models import Account, ApiKey
from yinzi.errors import BadRequest, NotFound, Unauthorized
from yinzi.services import billing

KEY_PREFIX = "yz_"
MAX_KEY_CHARS = 200
"""No key is longer; a longer one is refused without a database query."""


@dataclass(frozen=True)
class NewKey:
    id: int
    key: str
    """The secret itself: shown once, never stored."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_account(
    session: Session, email: str, *, credits: int = 0, is_admin: bool = False
) -> tuple[Account, NewKey]:
    email = email.strip().lower()
    if "@" not in email:
        raise BadRequest(f"not an email address: {email!r}")
    account = Account(email=email, is_admin=is_admin)
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:
        raise BadRequest(f"an account with email {email} already exists") from exc
    billing.open_account(session, account.id)
    if credits:
        billing.grant(session, account.id, credits, note="initial credits")
    return account, create_key(session, account)


def create_key(session: Session, account: Account, name: str = "default") -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(account_id=account.id, name=name, prefix=key[:10], key_hash=hash_key(key))
    session.add(row)
    session.flush()
    return NewKey(row.id, key)


def authenticate(session: Session, key: str) -> Account:
    """The account owning an active ``key``; raises Unauthorized otherwise."""
    if len(key) > MAX_KEY_CHARS:
        raise Unauthorized()
    account = session.execute(
        select(Account)
        .join(ApiKey, ApiKey.account_id == Account.id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if account is None:
        raise Unauthorized()
    return account


@dataclass
class KeyCache:
    """Recently authenticated keys, per process, for ``ttl`` seconds (0 disables it).

    Saves a database round trip on every request; a revoked key keeps working in a process for
    at most ``ttl`` seconds. Entries are keyed by the key's hash and hold a detached Account.
    """

    ttl: float
    max_entries: int = 10_000
    _entries: dict[str, tuple[float, Account]] = field(default_factory=dict)

    def authenticate(self, session: Session, key: str) -> Account:
        if self.ttl <= 0:
            return authenticate(session, key)
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        account = authenticate(session, key)
        session.expunge(account)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (now + self.ttl, account)
        return account


def find(session: Session, email: str) -> Account:
    account = session.execute(
        select(Account).where(Account.email == email.strip().lower())
    ).scalar_one_or_none()
    if account is None:
        raise NotFound(f"no account with email {email}")
    return account


def by_id(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def list_keys(session: Session, account: Account) -> list[ApiKey]:
    return list(
        session.execute(select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id))
        .scalars()
        .all()
    )


def revoke_key(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Account)).scalar_one())
