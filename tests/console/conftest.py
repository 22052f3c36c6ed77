"""The console's tests: a real server (the SDK tests' fixture) and headless Debian Chromium
driven by Playwright.

``browser`` is shared by a test module; each test gets fresh pages. ``signed_in(page, person)``
signs a person in through the sign-in form, as a user would.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sdk.conftest import Server, ServerFactory, server, yinzi_server

from yinzi.services import accounts

__all__ = ["Server", "ServerFactory", "server", "yinzi_server"]

CHROMIUM = os.environ.get("YINZI_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    id: int
    email: str
    password: str
    key: str


def make_person(
    server: Server, *, credits: int = 1000, admin: bool = False, password: str = PASSWORD
) -> Person:
    """An account with a console password (and the API key every account starts with)."""
    from yinzi.services import passwords

    email = f"person-{secrets.token_hex(4)}@example.com"
    with server.ctx.db.write() as session:
        account, key = accounts.create_account(session, email, credits=credits, is_admin=admin)
        passwords.set_password(session, account.id, password)
    return Person(account.id, email, password, key.key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Not for the whole session: Playwright's sync API keeps an
    asyncio loop running in this thread while it is open, and later tests call asyncio.run()."""
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (make chromium installs Debian's)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """``new_page(locale="en-US", url=None)``: a page in a fresh browser context (its own cookies)
    on the server at ``url``; without one, on the default ``server`` fixture's. A test that starts
    its own server with ``yinzi_server(...)`` passes its url, so no second server starts."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "en-US", url: str | None = None) -> Page:
        base = url if url is not None else request.getfixturevalue("server").url
        context = browser.new_context(base_url=base, locale=locale)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


def signed_in(page: Page, person: Person) -> Page:
    """Signs ``person`` in through the form; returns the page, now on the overview."""
    page.goto("/console/sign-in")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")
    return page
