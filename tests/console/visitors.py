"""Signed-in visitors for the order and credit pages' tests: an account with credits and a
console session made by the session service (as the sign-in form makes one); its cookie goes
into a browser page or an httpx client."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx
from playwright.sync_api import Page
from sdk.conftest import Server

from yinzi.console.auth import SESSION_COOKIE
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
    server: Server

    def client(self) -> httpx.Client:
        """An httpx client carrying the session cookie (redirects are not followed)."""
        return httpx.Client(
            base_url=self.server.url, cookies={SESSION_COOKIE: self.token}, timeout=30
        )

    def sign_in(self, page: Page) -> Page:
        page.context.add_cookies(
            [{"name": SESSION_COOKIE, "value": self.token, "url": self.server.url}]
        )
        return page

    def order(self, order_no: str) -> Order:
        with self.server.ctx.db.read() as session:
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


def visitor(server: Server, credits: int = 1000) -> Visitor:
    email = f"visitor-{secrets.token_hex(4)}@example.com"
    with server.ctx.db.write() as session:
        account, key = accounts.create_account(session, email, credits=credits)
        token, viewer = console_sessions.start(session, account, hours=1)
    return Visitor(account.id, email, key.key, token, viewer.csrf_token, server)
