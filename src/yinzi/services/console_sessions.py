"""Console sessions: a random token in the browser's cookie, only its SHA-256 in the database.

A session ends when it expires, when its owner signs out (the row is deleted, so a copied cookie
stops working at once), when the password changes (every other session of the account ends), or
when the account is disabled (sessions of a disabled account are never found).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yinzi.db import utcnow
from yinzi.db.models import Account, ConsoleSession

MAX_TOKEN_CHARS = 100


@dataclass(frozen=True)
class Viewer:
    """Who is signed in to the console, as the pages need it (no ORM object leaves a session)."""

    account_id: int
    email: str
    is_admin: bool
    csrf_token: str
    token_hash: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, account: Account, hours: float) -> tuple[str, Viewer]:
    """A new session for ``account``: the cookie's token (shown once) and its viewer."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=_hash(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=hours),
    )
    session.add(row)
    session.flush()
    return token, Viewer(
        account.id, account.email, account.is_admin, row.csrf_token, row.token_hash
    )


def find(session: Session, token: str, now: datetime | None = None) -> Viewer | None:
    """The live session of ``token``, or None (unknown, expired, or the account disabled)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    row = session.execute(
        select(ConsoleSession, Account)
        .join(Account, Account.id == ConsoleSession.account_id)
        .where(
            ConsoleSession.token_hash == _hash(token),
            ConsoleSession.expires_at > (now or utcnow()),
            Account.disabled_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return None
    live, account = row
    return Viewer(account.id, account.email, account.is_admin, live.csrf_token, live.token_hash)


def end(session: Session, token_hash: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash))


def end_all(session: Session, account_id: int, keep: str | None = None) -> None:
    """End every session of an account, except the one whose hash is ``keep``."""
    query = delete(ConsoleSession).where(ConsoleSession.account_id == account_id)
    if keep is not None:
        query = query.where(ConsoleSession.token_hash != keep)
    session.execute(query)


def purge_expired(session: Session, now: datetime | None = None) -> int:
    result = session.execute(
        delete(ConsoleSession).where(ConsoleSession.expires_at <= (now or utcnow()))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
