"""The administration pages: what an operator does in a browser, and what nobody else may do."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from console.visitors import signed_in_as, visitor
from fastapi.testclient import TestClient
from markupsafe import escape
from playwright.sync_api import Page, expect
from sdk.conftest import Server

from yinzi.context import Context
from yinzi.db.models import Account, LedgerEntry
from yinzi.engines.report import report
from yinzi.errors import NotFound
from yinzi.models import status as model_status
from yinzi.services import accounts, billing, console_sessions, orders

ADMIN_PAGES = (
    "/console/admin/",
    "/console/admin/accounts",
    "/console/admin/accounts/1",
    "/console/admin/orders",
    "/console/admin/engines",
    "/console/admin/workers",
)
ADMIN_FORMS = (
    "/console/admin/accounts",
    "/console/admin/accounts/1/disable",
    "/console/admin/accounts/1/enable",
    "/console/admin/accounts/1/credits",
)


def available(ctx: Context, account_id: int) -> int:
    with ctx.db.read() as session:
        return billing.balance(session, account_id).available


def text(response: httpx.Response) -> str:
    """The page's text, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


# -- in a browser ----------------------------------------------------------------------------


def test_an_operator_creates_an_account_grants_and_revokes_credits_and_disables_it(
    server: Server, new_page: Callable[..., Page]
) -> None:
    boss = visitor(server.ctx, 0, admin=True)
    page = signed_in_as(new_page(), server, boss)
    page.goto("/console/admin/")
    page.get_by_role("link", name="Accounts").first.click()
    page.get_by_label("Email", exact=True).fill("newcomer@example.com")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("newcomer@example.com")
    link = page.locator("#set-password-link")
    if link.count():  # where passwords can be set from a link, it is shown once
        expect(link).to_contain_text("/console/set-password/")
        page.reload()
        expect(page.locator("#set-password-link")).to_have_count(0)
    page.get_by_role("link", name="newcomer@example.com").click()
    page.get_by_label("Credits").fill("250")
    page.get_by_label("Note").fill("welcome bonus")
    page.get_by_role("button", name="Grant credits").click()
    expect(page.get_by_role("status")).to_have_text("Credits granted.")
    expect(page.locator("#available")).to_have_text("250")
    page.get_by_label("Credits").fill("50")
    page.get_by_role("button", name="Revoke credits").click()
    expect(page.locator("#available")).to_have_text("200")
    page.get_by_label("Credits").fill("5000")
    page.get_by_role("button", name="Revoke credits").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot revoke 5000 credits")
    expect(page.locator("#available")).to_have_text("200")

    with server.ctx.db.write() as session:
        newcomer = accounts.find(session, "newcomer@example.com")
        token, _ = console_sessions.start(session, newcomer, 1)
        notes = [(e.kind, e.available_delta, e.note) for e in billing.entries(session, newcomer.id)]
    assert notes == [
        ("grant", 250, "welcome bonus"),
        ("revoke", -50, "revoked by an administrator"),
    ]
    page.get_by_role("button", name="Disable account").click()
    expect(page.get_by_role("status")).to_contain_text("The account is disabled")
    expect(page.locator("#state")).to_contain_text("Disabled since")
    with server.ctx.db.read() as session:
        assert console_sessions.find(session, token) is None
    page.get_by_role("button", name="Enable account").click()
    expect(page.locator("#state")).to_have_text("Active")


def test_an_operator_sees_every_order_and_the_queue(
    server: Server, new_page: Callable[..., Page]
) -> None:
    boss = visitor(server.ctx, 0, admin=True)
    ann = visitor(server.ctx, credits=500)
    with server.ctx.db.write() as session:
        account = session.get(Account, ann.id)
        assert account is not None
        order = orders.create(
            session, server.settings, account, "track-separation", "http://127.0.0.1:9/x.mp3", {}
        )
    deadline = time.monotonic() + 60
    while order.status != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
        with server.ctx.db.read() as session:
            order = orders.get(session, session.get(Account, ann.id), order.order_no)  # type: ignore[arg-type]
    page = signed_in_as(new_page(locale="zh-CN"), server, boss)
    page.goto("/console/admin/orders?status=failed")
    row = page.locator("tr", has_text=order.order_no)
    expect(row).to_contain_text(ann.email)
    expect(row).to_contain_text("track-separation")
    expect(row).to_contain_text("失败")
    expect(row.locator("[lang=en]")).to_have_text(order.reason or "?")
    page.get_by_label("账户邮箱").fill("nobody-here")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("tr", has_text=order.order_no)).to_have_count(0)
    page.goto("/console/admin/workers")
    expect(page.get_by_role("heading", level=1)).to_have_text("工作进程与队列")


# -- over HTTP -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_no_admin_page_exists_for_anyone_else(client: TestClient, ctx: Context, path: str) -> None:
    user = visitor(ctx, 0)
    assert client.get(path, headers=user.cookies()).status_code == 404
    anonymous = client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/sign-in?next=")


@pytest.mark.parametrize("path", ADMIN_FORMS)
def test_no_admin_form_works_for_anyone_else(client: TestClient, ctx: Context, path: str) -> None:
    user = visitor(ctx, credits=10)
    form = {"csrf_token": user.csrf, "email": "x@example.com", "credits": "5", "note": ""}
    refused = client.post(path.replace("/1/", f"/{user.id}/"), data=form, headers=user.cookies())
    assert refused.status_code == 404
    assert "Page not found" in refused.text
    with ctx.db.read() as session:
        assert session.get(Account, user.id).disabled_at is None  # type: ignore[union-attr]
        with pytest.raises(NotFound):
            accounts.find(session, "x@example.com")
    assert available(ctx, user.id) == 10


def test_admin_forms_need_the_sessions_csrf_token(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    ann = visitor(ctx, credits=10)
    url = f"/console/admin/accounts/{ann.id}/credits"
    for token in (None, "forged", ann.csrf):
        form = {"credits": "5", "note": ""} | ({"csrf_token": token} if token else {})
        assert client.post(url, data=form, headers=boss.cookies()).status_code == 403
    assert available(ctx, ann.id) == 10
    done = client.post(
        url,
        data={"credits": "5", "csrf_token": boss.csrf},
        headers=boss.cookies(),
        follow_redirects=False,
    )
    assert done.status_code == 303 and available(ctx, ann.id) == 15


@pytest.mark.parametrize("amount", ["", "0", "-3", "2.5", "abc", "99999999999"])
def test_a_bad_amount_of_credits_is_explained_in_the_page(
    client: TestClient, ctx: Context, amount: str
) -> None:
    boss = visitor(ctx, 0, admin=True)
    ann = visitor(ctx, credits=10)
    form = {"credits": amount, "note": "n", "action": "grant", "csrf_token": boss.csrf}
    url = f"/console/admin/accounts/{ann.id}/credits"
    english = client.post(url, data=form, headers=boss.cookies())
    assert english.status_code == 400
    assert "Enter a whole number of credits above 0." in english.text
    chinese = client.post(url, data=form, headers=boss.cookies("zh"))
    assert "请输入大于 0 的整数积分。" in chinese.text
    assert available(ctx, ann.id) == 10


def test_an_operator_cannot_disable_their_own_account(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    own = client.get(f"/console/admin/accounts/{boss.id}", headers=boss.cookies())
    assert "you cannot disable it" in own.text and "Disable account" not in own.text
    refused = client.post(
        f"/console/admin/accounts/{boss.id}/disable",
        data={"csrf_token": boss.csrf},
        headers=boss.cookies(),
    )
    assert refused.status_code == 400
    assert "You cannot disable your own account." in refused.text
    with ctx.db.read() as session:
        assert console_sessions.find(session, boss.token) is not None


def test_a_new_account_needs_a_new_email_address(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    for email, status, message in (
        ("", 400, "Enter the new account's email address."),
        ("not-an-address", 400, "Enter the new account's email address."),
        (boss.email, 400, f"an account with email {boss.email} already exists"),
    ):
        answer = client.post(
            "/console/admin/accounts",
            data={"email": email, "csrf_token": boss.csrf},
            headers=boss.cookies(),
        )
        assert (answer.status_code, message in answer.text) == (status, True), email
    made = client.post(
        "/console/admin/accounts",
        data={"email": "Ops@Example.com", "administrator": "1", "csrf_token": boss.csrf},
        headers=boss.cookies(),
    )
    assert made.status_code == 201
    with ctx.db.read() as session:
        assert accounts.find(session, "ops@example.com").is_admin
        assert session.query(LedgerEntry).count() == 0


def test_accounts_are_searched_and_paged(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    for _ in range(55):
        visitor(ctx, 0)
    first = text(client.get("/console/admin/accounts", headers=boss.cookies()))
    assert "56 accounts" in first and "Page 1 of 2" in first
    second = client.get("/console/admin/accounts?page=2", headers=boss.cookies())
    assert second.text.count('href="/console/admin/accounts/') == 6
    found = text(client.get(f"/console/admin/accounts?q={boss.email}", headers=boss.cookies()))
    assert "1 account " in found and boss.email in found


def test_the_engines_page_says_what_yinzi_engines_and_models_list_say(
    client: TestClient, ctx: Context
) -> None:
    boss = visitor(ctx, 0, admin=True)
    page = client.get("/console/admin/engines", headers=boss.cookies())
    assert page.status_code == 200
    found = report(ctx.settings)
    for row in found.engines:
        assert f"<code>{row.name}</code>" in page.text
        assert row.summary in page.text
        if row.problem is not None:
            assert str(escape(row.problem)) in page.text
    assert any(row.used_for for row in found.engines)
    for model in model_status.rows(ctx.settings.models_dir):
        assert f"<code>{model.name}</code>" in page.text


def test_the_workers_page_counts_the_queue(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    ann = visitor(ctx, credits=500)
    with ctx.db.write() as session:
        account = session.get(Account, ann.id)
        assert account is not None
        for kind in ("extract-voice", "extract-voice", "extract-music"):
            orders.create(session, ctx.settings, account, kind, "https://example.com/a.mp3", {})
    page = client.get("/console/admin/workers", headers=boss.cookies())
    assert re.search(r'id="pending">\s*3<', page.text)
    assert re.search(r'id="running">\s*0<', page.text)
    assert '<code>extract-voice</code></td><td class="num">2</td>' in page.text
    summary = text(client.get("/console/admin/", headers=boss.cookies()))
    assert "Orders 3" in summary and "Pending 3" in summary


def test_an_unknown_account_is_the_404_page(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    assert client.get("/console/admin/accounts/4242", headers=boss.cookies()).status_code == 404
    huge = client.get("/console/admin/accounts/" + "9" * 30, headers=boss.cookies())
    assert huge.status_code == 400 and "<html" in huge.text
    form = {"credits": "5", "csrf_token": boss.csrf}
    missing = client.post("/console/admin/accounts/4242/credits", data=form, headers=boss.cookies())
    assert missing.status_code == 404


def test_an_accounts_orders_are_exactly_that_accounts(client: TestClient, ctx: Context) -> None:
    boss = visitor(ctx, 0, admin=True)
    made: dict[str, tuple[int, list[str]]] = {}
    with ctx.db.write() as session:
        for email, count in (("ann@example.com", 11), ("joann@example.com", 1)):
            account, _ = accounts.create_account(session, email, credits=1000)
            numbers = [
                orders.create(
                    session, ctx.settings, account, "extract-voice", "https://example.com/a.mp3", {}
                ).order_no
                for _ in range(count)
            ]
            made[email] = (account.id, numbers)
    ann_id, ann_orders = made["ann@example.com"]
    joann_order = made["joann@example.com"][1][0]
    page = client.get(f"/console/admin/accounts/{ann_id}", headers=boss.cookies())
    assert f'href="/console/admin/orders?account={ann_id}"' in page.text
    listed = client.get(f"/console/admin/orders?account={ann_id}", headers=boss.cookies()).text
    assert all(number in listed for number in ann_orders)
    assert joann_order not in listed
    assert f'name="account" value="{ann_id}"' in listed
    by_email = client.get("/console/admin/orders?email=ann@example.com", headers=boss.cookies())
    assert joann_order in by_email.text  # the email filter matches any part of an address
