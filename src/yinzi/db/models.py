"""Tables. The orders table is the source of truth for work; the ledger for money.

Money invariant (see :mod:`yinzi.services.billing`): for every account,
``balances.available == Σ ledger.available_delta`` and ``balances.held == Σ ledger.held_delta``,
and both stay non-negative — enforced by CHECK constraints, not only by Python.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from yinzi.db import utcnow

_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    webhook_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    """Signs the account's callbacks when set (``yinzi accounts webhook-secret``)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    """An argon2 hash of the console password; None: the account cannot sign in to the console."""
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    """A disabled account's keys and console sessions stop working; its data is kept."""


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    prefix: Mapped[str] = mapped_column(String(16))
    """The key's first characters, shown in listings so a key can be recognised."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the key. The key itself is shown once and never stored."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the key last authenticated a request (updated at most once a minute)."""


class Balance(Base):
    __tablename__ = "balances"
    __table_args__ = (
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerEntry(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    order_no: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    kind: Mapped[str] = mapped_column(String(16))
    available_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    held_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key", name="uq_orders_idempotency"),
        CheckConstraint("held >= 0", name="order_held_not_negative"),
        Index("ix_orders_status_lease", "status", "lease_until"),
        Index("ix_orders_account_created", "account_id", "created_at"),
        Index("ix_orders_callback_due", "callback_state", "callback_next_at"),
        Index("ix_orders_message_id", "message_id"),
        Index("ix_orders_queue_status", "queue", "status"),
    )

    order_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    order_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    pay_status: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    """The input: an http(s) URL or an uploaded file's key."""
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    """Credits held for this order right now (mirrors its ledger entries)."""
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    """Credits captured when the order finished."""
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    duration: Mapped[float | None] = mapped_column(Float, default=None)
    results: Mapped[list[Any]] = mapped_column(default=list)
    """``[{"name", "business", "key"}]``: stored result files."""
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    deadline_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)
    """When retention (or the owner, with ``order/delete-results``) deleted the order's files."""
    progress: Mapped[int] = mapped_column(Integer, default=0)
    """0 to 100, only ever growing; written by the worker at most about once a second."""
    stage: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued``, ``fetching``, ``decoding``, the task's own stage, ``encoding``, ``storing``;
    ``done`` once the order ended."""
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    """The owner asked to stop the order while a worker ran it; the worker fails it."""
    error_code: Mapped[str | None] = mapped_column(String(32), default=None)
    """The failure's stable code (``fetch_failed``, ``media_error``, ``timeout``...)."""
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)
    callback_state: Mapped[str | None] = mapped_column(String(16), default=None)
    """``pending`` (due at ``callback_next_at``), ``delivered`` or ``failed``."""
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_next_at: Mapped[datetime | None] = mapped_column(default=None)
    callback_error: Mapped[str | None] = mapped_column(Text, default=None)
    queue: Mapped[str] = mapped_column(String(32), default="cpu", server_default="cpu")
    """The queue the order was routed to at create (:func:`yinzi.queue.routing.queue_for`)."""


class Upload(Base):
    __tablename__ = "uploads"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @validates("content_type")
    def _media_type(self, _key: str, value: str | None) -> str | None:
        """The client's media type without parameters; None if it is none, or too long to keep."""
        media = (value or "").partition(";")[0].strip().lower()
        return media if len(media) <= 100 and _MEDIA_TYPE.fullmatch(media) else None


class ConsoleSession(Base):
    """A signed-in console browser. The cookie holds the token; only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class SignInAttempt(Base):
    """A failed console sign-in, counted per email and per client address for the lockout."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PasswordToken(Base):
    """A one-time set-password link. Only the token's SHA-256 is stored."""

    __tablename__ = "password_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
