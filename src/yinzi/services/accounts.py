"""Accounts and API keys. Keys are shown once at creation and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yinzi.db import Database, utcnow
from yinzi.db.models import Account, ApiKey
from yinzi.errors import BadRequest, NotFound, Unauthorized
from yinzi.services import billing

KEY_PREFIX = "yz_"
MAX_EMAIL_CHARS = 320
"""The longest email address an account may have (RFC 5321's 64 + 1 + 255)."""
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
    if len(email) > MAX_EMAIL_CHARS:
        raise BadRequest(f"an email address has at most {MAX_EMAIL_CHARS} characters")
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


MAX_KEY_NAME_CHARS = 100


def create_key(session: Session, account: Account, name: str = "default") -> NewKey:
    name = name.strip()
    if not name:
        raise BadRequest("The key needs a name.")
    if len(name) > MAX_KEY_NAME_CHARS:
        raise BadRequest(f"A key's name has at most {MAX_KEY_NAME_CHARS} characters.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(account_id=account.id, name=name, prefix=key[:10], key_hash=hash_key(key))
    session.add(row)
    session.flush()
    return NewKey(row.id, key)


def authenticate(session: Session, key: str) -> Account:
    """The account owning an active ``key`` (not revoked, its account not disabled); raises
    Unauthorized otherwise. Marks the key used (see :func:`_touch`)."""
    account, touch = _lookup(session, key)
    if touch is not None:
        _touch(session, *touch)
    return account


def _lookup(session: Session, key: str) -> tuple[Account, tuple[int, datetime] | None]:
    """The account of an active ``key``, and the key's id and the time to mark it used with
    when that is due (None otherwise); writes nothing."""
    if len(key) > MAX_KEY_CHARS:
        raise Unauthorized()
    row = session.execute(
        select(Account, ApiKey.id, ApiKey.last_used_at)
        .join(ApiKey, ApiKey.account_id == Account.id)
        .where(
            ApiKey.key_hash == hash_key(key),
            ApiKey.revoked_at.is_(None),
            Account.disabled_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized()
    account, key_id, last_used = row
    now = utcnow()
    due = last_used is None or now - last_used >= TOUCH_EVERY
    return account, (key_id, now) if due else None


TOUCH_EVERY = timedelta(minutes=1)
"""``ApiKey.last_used_at`` is written at most this often per key: a request whose key was used
less than this long ago writes nothing."""


def _touch(session: Session, key_id: int, now: datetime) -> None:
    """Set the key's ``last_used_at``: in the caller's transaction when it is a write, else in a
    short transaction of its own (a read session never commits). The ``WHERE`` keeps two
    processes from both writing within TOUCH_EVERY."""
    statement = (
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )
    if session.connection().get_execution_options().get("yinzi_immediate", False):
        session.execute(statement)
        return
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with engine.connect() as connection:
        with connection.execution_options(yinzi_immediate=True).begin():
            connection.execute(statement)


@dataclass
class KeyCache:
    """Recently authenticated keys, per process, for ``ttl`` seconds (0 disables it).

    Saves a database round trip on every request (and writes ``last_used_at`` only on a miss); a
    revoked key, or the key of a disabled account, keeps working in a process for at most
    ``ttl`` seconds. Entries are keyed by the key's hash and hold a detached Account.
    """

    ttl: float
    max_entries: int = 10_000
    _entries: dict[str, tuple[float, Account]] = field(default_factory=dict)

    def cached(self, key: str) -> Account | None:
        """The account of ``key`` while it is cached (no database work at all), else None."""
        hit = self._entries.get(hash_key(key)) if self.ttl > 0 else None
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def check(self, db: Database, key: str) -> Account:
        """:func:`authenticate` with sessions of its own, unless the key is cached: the key is
        looked up in a read session and marked used in a write session once that one is closed,
        so a request never holds two of the pool's connections at once (a burst of requests
        with new keys, each waiting for a second connection while holding one, could take every
        connection the pool has and leave them all waiting)."""
        account = self.cached(key)
        if account is not None:
            return account
        with db.read() as session:
            account, touch = _lookup(session, key)
            if self.ttl > 0:
                self._remember(key, account, session)
        if touch is not None:
            with db.write() as session:
                _touch(session, *touch)
        return account

    def _remember(self, key: str, account: Account, session: Session) -> None:
        session.expunge(account)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[hash_key(key)] = (time.monotonic() + self.ttl, account)

    def forget(self, key_hash: str) -> None:
        """Drop a key (by its stored hash) at once, e.g. after this process revoked it."""
        self._entries.pop(key_hash, None)


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


def revoke_own_key(session: Session, account_id: int, key_id: int) -> ApiKey:
    """Revoke one of the account's own keys; another account's key is NotFound, like none."""
    row = session.get(ApiKey, key_id)
    if row is None or row.account_id != account_id:
        raise NotFound(f"no API key with id {key_id}")
    return revoke_key(session, key_id)


def revoke_key(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Account)).scalar_one())
