"""Signing in and out of the console, in a real browser: what a person sees, and what the server
refuses."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import update

from yinzi.db import utcnow
from yinzi.db.models import ConsoleSession
from yinzi.services import passwords

from .conftest import PASSWORD, Server, ServerFactory, make_person, signed_in

WRONG = "Wrong email or password."


def _try_sign_in(page: Page, email: str, password: str, base: str = "") -> None:
    page.goto(f"{base}/console/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _session_cookie(page: Page) -> dict[str, object]:
    return next(c for c in page.context.cookies() if c["name"] == "yinzi_session")  # type: ignore[return-value]


def test_a_user_signs_in_and_lands_on_the_overview(server: Server, page: Page) -> None:
    person = make_person(server)
    signed_in(page, person)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name=person.email)).to_be_visible()
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/console" and cookie["secure"] is False
    hours = server.settings.console.session_hours
    assert 0 < float(cookie["expires"]) - __import__("time").time() <= hours * 3600  # type: ignore[arg-type]


def test_wrong_password_and_unknown_email_look_the_same(server: Server, page: Page) -> None:
    person = make_person(server)
    _try_sign_in(page, person.email, "not the password")
    expect(page.get_by_role("alert")).to_have_text(WRONG)
    _try_sign_in(page, "nobody-here@example.com", PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(WRONG)
    assert page.url.endswith("/console/sign-in")


def test_too_many_failures_lock_the_email_out(
    yinzi_server: ServerFactory, new_page: Callable[..., Page]
) -> None:
    server = yinzi_server(worker=False, console={"sign_in_attempts": 3})
    page = new_page(url=server.url)
    person = make_person(server)
    for _ in range(3):
        _try_sign_in(page, person.email, "not the password", server.url)
        expect(page.get_by_role("alert")).to_have_text(WRONG)
    _try_sign_in(page, person.email, person.password, server.url)
    expect(page.get_by_role("alert")).to_have_text(
        "Too many failed sign-ins. Wait a few minutes and try again."
    )


def test_sign_out_ends_the_session_on_the_server(server: Server, page: Page) -> None:
    signed_in(page, make_person(server))
    token = str(_session_cookie(page)["value"])
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    replay = httpx.get(
        f"{server.url}/console/keys", cookies={"yinzi_session": token}, follow_redirects=False
    )
    assert replay.status_code == 303
    assert replay.headers["location"] == "/console/sign-in?next=/console/keys"


def test_an_expired_session_sends_back_to_sign_in(server: Server, page: Page) -> None:
    signed_in(page, make_person(server))
    with server.ctx.db.write() as s:
        s.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    page.goto("/console/keys")
    page.wait_for_url("**/console/sign-in?next=/console/keys")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(server: Server, page: Page) -> None:
    signed_in(page, make_person(server))
    for form in ({"name": "x"}, {"name": "x", "csrf_token": "forged"}):
        response = page.request.post("/console/keys", form=form)
        assert response.status == 403
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    ok = page.request.post("/console/keys", form={"name": "x", "csrf_token": token or ""})
    assert ok.status == 200


def test_changing_the_password_ends_the_other_sessions(
    server: Server, new_page: Callable[..., Page]
) -> None:
    person = make_person(server)
    laptop, phone = signed_in(new_page(), person), signed_in(new_page(), person)
    laptop.goto("/console/password")
    laptop.get_by_label("Current password").fill(person.password)
    laptop.get_by_label("New password", exact=True).fill("a brand new passphrase")
    laptop.get_by_label("Repeat the new password").fill("a brand new passphrase")
    laptop.get_by_role("button", name="Change password").click()
    expect(laptop.get_by_role("status")).to_contain_text("Your password was changed.")
    laptop.goto("/console/keys")
    expect(laptop.get_by_role("heading", name="API keys")).to_be_visible()  # still signed in
    phone.goto("/console/keys")
    phone.wait_for_url("**/console/sign-in?next=/console/keys")
    person.password = "a brand new passphrase"
    signed_in(new_page(), person)


def test_a_set_password_link_works_once(server: Server, new_page: Callable[..., Page]) -> None:
    person = make_person(server)
    with server.ctx.db.write() as s:
        token = passwords.issue_link(s, person.id)
    page = new_page()
    page.goto(f"/console/set-password/{token}")
    expect(page.get_by_text(person.email)).to_be_visible()
    page.get_by_label("New password", exact=True).fill("linked passphrase")
    page.get_by_label("Repeat the new password").fill("linked passphrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is set.")
    page.goto(f"/console/set-password/{token}")
    expect(page.get_by_role("alert")).to_contain_text("This link is not valid")
    person.password = "linked passphrase"
    signed_in(new_page(), person)


def test_sign_up_is_off_by_default(server: Server, page: Page) -> None:
    assert page.goto("/console/sign-up").status == 404  # type: ignore[union-attr]


def test_sign_up_when_on_gives_the_starting_credits(
    yinzi_server: ServerFactory, new_page: Callable[..., Page]
) -> None:
    server = yinzi_server(worker=False, console={"signup": True, "signup_credits": 42})
    page = new_page(url=server.url)
    page.goto(f"{server.url}/console/sign-in")
    page.get_by_role("link", name="Create one").click()
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.evaluate("document.querySelectorAll('input').forEach(i => i.removeAttribute('minlength'))")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_have_text("The password must have at least 8 characters.")
    page.get_by_label("Password", exact=True).fill("long enough now")
    page.get_by_label("Repeat the password").fill("long enough now")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{server.url}/console/")
    expect(page.get_by_test_id("available")).to_have_text("42")


def test_next_cannot_leave_the_site(server: Server, page: Page) -> None:
    person = make_person(server)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/docs"):
        page.context.clear_cookies()
        page.goto(f"/console/sign-in?next={target}")
        page.get_by_label("Email").fill(person.email)
        page.get_by_label("Password").fill(person.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/console/")
    page.context.clear_cookies()
    page.goto("/console/sign-in?next=/console/keys")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/console/keys")


def test_with_secure_cookies_the_session_cookie_is_set_and_cleared_secure(
    yinzi_server: ServerFactory,
) -> None:
    server = yinzi_server(worker=False, console={"secure_cookies": True})
    person = make_person(server)
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        form = client.get("/console/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        cookie = f"yinzi_csrf={csrf.group(1)}"
        fields = {"email": person.email, "password": person.password, "csrf_token": csrf.group(1)}
        signed = client.post("/console/sign-in", data=fields, headers={"cookie": cookie})
        assert signed.status_code == 303
        set_cookie = signed.headers["set-cookie"]
        assert set_cookie.startswith("yinzi_session=")
        for attribute in ("HttpOnly", "Path=/console", "SameSite=lax", "Secure"):
            assert attribute in set_cookie
        session = set_cookie.split(";", 1)[0]
        page = client.get("/console/", headers={"cookie": session})
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token is not None
        out = client.post(
            "/console/sign-out", data={"csrf_token": token.group(1)}, headers={"cookie": session}
        )
        assert out.status_code == 303
        cleared = out.headers["set-cookie"]
        assert cleared.startswith('yinzi_session="";') and "Secure" in cleared
        assert "Max-Age=0" in cleared
