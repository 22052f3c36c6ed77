"""Signed-in console sessions for tests, made directly in the database (as the sign-in form
would make them), so a test can be anyone: an administrator, a user, two users at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from playwright.sync_api import Page
from sdk.conftest import Server

from yinzi.context import Context
from yinzi.services import accounts, console_sessions


@dataclass
class Visitor:
    id: int
    email: str
    token: str
    csrf: str

    def cookies(self, lang: str = "en") -> dict[str, str]:
        """Request headers that carry the session (and a language) to the console."""
        return {"Cookie": f"yinzi_session={self.token}; yinzi_lang={lang}"}


def visitor(ctx: Context, *, admin: bool = False, credits: int = 0) -> Visitor:
    email = f"{'admin' if admin else 'user'}-{secrets.token_hex(3)}@example.com"
    with ctx.db.write() as session:
        account, _ = accounts.create_account(session, email, credits=credits, is_admin=admin)
        token, viewer = console_sessions.start(session, account, 1)
    return Visitor(account.id, email, token, viewer.csrf_token)


def signed_in_as(page: Page, server: Server, who: Visitor) -> Page:
    page.context.add_cookies(
        [{"name": "yinzi_session", "value": who.token, "url": server.url + "/console/"}]
    )
    return page
