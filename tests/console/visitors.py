"""Signed-in console visitors for tests: an account with credits and a console session made by
the session service (as the sign-in form makes one). Its cookie goes into a browser page, an
httpx client or a TestClient's headers, so a test can be anyone: an administrator, a user, two
users at once."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx
from playwright.sync_api import Page
from sdk.conftest import Server

from yinzi.console.auth import SESSION_COOKIE
from yinzi.context import Context
from yinzi.db.models import Order
from yinzi.services import accounts, console_sessions
from yinzi.services.orders import ENDED


@dataclass
class Visitor:
    id: int
    email: str
    key: str
    token: str
    csrf: str
    ctx: Context
    server: Server | None = None

    def cookies(self, lang: str = "en") -> dict[str, str]:
        """Request headers that carry the session (and a language) to the console."""
        return {"Cookie": f"{SESSION_COOKIE}={self.token}; yinzi_lang={lang}"}

    def client(self) -> httpx.Client:
        """An httpx client to the live server carrying the session cookie (no redirects)."""
        assert self.server is not None, "this visitor has no live server"
        return httpx.Client(
            base_url=self.server.url, cookies={SESSION_COOKIE: self.token}, timeout=30
        )

    def sign_in(self, page: Page, url: str | None = None) -> Page:
        base = url or (self.server.url if self.server else None)
        assert base is not None, "a page needs the server's url"
        page.context.add_cookies([{"name": SESSION_COOKIE, "value": self.token, "url": base}])
        return page

    def order(self, order_no: str) -> Order:
        with self.ctx.db.read() as session:
            order = session.get(Order, order_no)
            assert order is not None
            return order

    def wait_ended(self, order_no: str, seconds: float = 60) -> Order:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            order = self.order(order_no)
            if order.status in ENDED:
                return order
            time.sleep(0.2)
        raise AssertionError(f"order {order_no} did not end in {seconds} s")


def visitor(where: Server | Context, credits: int = 1000, *, admin: bool = False) -> Visitor:
    """A new account signed in to the console, on a live server or an app's context."""
    server = where if isinstance(where, Server) else None
    ctx = where.ctx if isinstance(where, Server) else where
    email = f"{'admin' if admin else 'visitor'}-{secrets.token_hex(4)}@example.com"
    with ctx.db.write() as session:
        account, key = accounts.create_account(session, email, credits=credits, is_admin=admin)
        token, viewer = console_sessions.start(session, account, hours=1)
    return Visitor(account.id, email, key.key, token, viewer.csrf_token, ctx, server)


def signed_in_as(page: Page, server: Server, who: Visitor) -> Page:
    return who.sign_in(page, server.url)
