"""Accounts and keys: hashing, revocation and the per-process key cache."""

from __future__ import annotations

import time

import pytest

from yinzi.context import Context
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
    with ctx.db.read() as s:
        assert cache.authenticate(s, user.key).id == user.id
    _revoke_all(ctx, user.email)
    with ctx.db.read() as s:
        assert cache.authenticate(s, user.key).id == user.id  # still within the ttl
    time.sleep(0.35)
    with ctx.db.read() as s, pytest.raises(Unauthorized):
        cache.authenticate(s, user.key)


def test_without_a_cache_revocation_is_immediate(ctx: Context, user: User) -> None:
    cache = KeyCache(ttl=0)
    with ctx.db.read() as s:
        cache.authenticate(s, user.key)
    _revoke_all(ctx, user.email)
    with ctx.db.read() as s, pytest.raises(Unauthorized):
        cache.authenticate(s, user.key)


def test_unknown_keys_are_never_cached(ctx: Context) -> None:
    cache = KeyCache(ttl=60)
    for _ in range(2):
        with ctx.db.read() as s, pytest.raises(Unauthorized):
            cache.authenticate(s, "yz_unknown")


def test_emails_are_unique_and_case_insensitive(ctx: Context, user: User) -> None:
    with pytest.raises(BadRequest, match="already exists"), ctx.db.write() as s:
        accounts.create_account(s, user.email.upper())
    with pytest.raises(BadRequest, match="not an email"), ctx.db.write() as s:
        accounts.create_account(s, "nobody")
