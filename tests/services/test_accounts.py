"""Accounts and keys: hashing, revocation and the per-process key cache."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select

from yinzi.context import Context
from yinzi.db.models import ApiKey
from yinzi.errors import BadRequest, Unauthorized
from yinzi.services import accounts
from yinzi.services.accounts import KeyCache

from helpers import User


def _revoke_all(ctx: Context, email: str) -> None:
    with ctx.db.write() as s:
        for key in accounts.list_keys(s, accounts.find(s, email)):
            accounts.revoke_key(s, key.id)


def test_a_cached_key_is_remembered_for_its_ttl_only(ctx: Context, user: User) -> None:
    cache = KeyCache(ttl=0.3)
    assert cache.check(ctx.db, user.key).id == user.id
    _revoke_all(ctx, user.email)
    assert cache.check(ctx.db, user.key).id == user.id  # still within the ttl
    time.sleep(0.35)
    with pytest.raises(Unauthorized):
        cache.check(ctx.db, user.key)


def test_without_a_cache_revocation_is_immediate(ctx: Context, user: User) -> None:
    cache = KeyCache(ttl=0)
    cache.check(ctx.db, user.key)
    _revoke_all(ctx, user.email)
    with pytest.raises(Unauthorized):
        cache.check(ctx.db, user.key)


def test_unknown_keys_are_never_cached(ctx: Context) -> None:
    cache = KeyCache(ttl=60)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            cache.check(ctx.db, "yz_unknown")


@pytest.mark.parametrize("ttl", [0, 60])
def test_a_check_marks_the_key_used_holding_one_connection_at_a_time(
    ctx: Context, user: User, ttl: float
) -> None:
    """A key due to be marked used is looked up and marked in turn: a request that waited for
    a second connection while holding one could, in a burst, leave the whole pool waiting."""
    held: dict[int, int] = {}
    most = 0

    def checkout(*_: Any) -> None:
        nonlocal most
        me = threading.get_ident()
        held[me] = held.get(me, 0) + 1
        most = max(most, held[me])

    def checkin(*_: Any) -> None:
        me = threading.get_ident()
        held[me] = held.get(me, 0) - 1

    event.listen(ctx.db.engine, "checkout", checkout)
    event.listen(ctx.db.engine, "checkin", checkin)
    try:
        assert KeyCache(ttl=ttl).check(ctx.db, user.key).id == user.id
    finally:
        event.remove(ctx.db.engine, "checkout", checkout)
        event.remove(ctx.db.engine, "checkin", checkin)
    assert most == 1
    with ctx.db.read() as s:
        used = s.scalars(select(ApiKey.last_used_at).where(ApiKey.account_id == user.id)).one()
    assert used is not None


def test_emails_are_unique_and_case_insensitive(ctx: Context, user: User) -> None:
    with pytest.raises(BadRequest, match="already exists"), ctx.db.write() as s:
        accounts.create_account(s, user.email.upper())
    with pytest.raises(BadRequest, match="not an email"), ctx.db.write() as s:
        accounts.create_account(s, "nobody")
