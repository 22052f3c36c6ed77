"""Credits and webhooks in the console: the ledger's running balance is the account's balance;
a webhook secret is shown once, rotating replaces it, and a real callback verifies with it using
the page's own Python sample."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html import unescape
from typing import Any

import httpx
from console.visitors import visitor
from playwright.sync_api import Page, expect
from sdk.conftest import Server

from yinzi.services import billing

from helpers import Receiver

GENERATE = "/api/v1/vocal-removal/generate"
SECRET = re.compile(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<')


def test_the_ledger_shows_every_entry_with_the_running_balance(
    server: Server, new_page: Callable[..., Page], song: str
) -> None:
    user = visitor(server, credits=200)
    with server.ctx.db.write() as session:
        billing.grant(session, user.id, 40, note="welcome bonus")
        billing.revoke(session, user.id, 15, note="correction")
    with user.client() as client:
        data = {"csrf_token": user.csrf, "order_type": "extract-voice", "url": song}
        order_no = client.post("/console/orders", data=data).headers["location"].split("/")[-1]
    user.wait_ended(order_no)

    page = user.sign_in(new_page())
    page.goto("/console/credits")
    with server.ctx.db.read() as session:
        balance = billing.balance(session, user.id)
        entries = billing.entries(session, user.id)
    expect(page.locator("#credits-available")).to_have_text(str(balance.available))
    expect(page.locator("#credits-held")).to_have_text(str(balance.held))
    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(len(entries))
    running = [int(text) for text in rows.locator("[data-field=running]").all_inner_texts()]
    kinds = rows.evaluate_all("rows => rows.map(row => row.dataset.kind)")
    assert kinds == [entry.kind for entry in reversed(entries)]
    assert running[0] == balance.available
    expected, total = [], 0
    for entry in entries:
        total += entry.available_delta
        expected.append(total)
    assert running == list(reversed(expected))
    expect(rows.filter(has_text="welcome bonus")).to_contain_text("Grant")
    expect(rows.filter(has_text="correction")).to_contain_text("Revoked")
    page.locator(f'tr[data-kind="hold"] a[href="/console/orders/{order_no}"]').click()
    page.wait_for_url(f"**/console/orders/{order_no}")


def test_the_ledger_pages_and_shows_only_the_viewers_entries(server: Server) -> None:
    user, other = visitor(server, credits=0), visitor(server, credits=7)
    with server.ctx.db.write() as session:
        for n in range(1, 61):
            billing.grant(session, user.id, n, note=f"grant number {n}")
    with user.client() as client:
        first = client.get("/console/credits").text
        second = client.get("/console/credits", params={"page": "2"}).text
    assert first.count("<tr data-kind=") == 50 and second.count("<tr data-kind=") == 10
    assert "grant number 60" in first and "grant number 1<" in second
    assert "Page 2 of 2" in second
    with other.client() as client:
        theirs = client.get("/console/credits").text
    assert "grant number" not in theirs and theirs.count("<tr data-kind=") == 1


def _secret(html: str) -> str:
    match = SECRET.search(html)
    assert match is not None, "no secret on the page"
    return unescape(match.group(1))


def test_a_webhook_secret_is_shown_once_and_rotating_replaces_it(
    server: Server, new_page: Callable[..., Page]
) -> None:
    user = visitor(server)
    page = user.sign_in(new_page())
    page.goto("/console/webhooks")
    expect(page.locator("#webhook-state")).to_contain_text("No signing secret yet")
    page.get_by_role("button", name="Create secret").click()
    first = page.locator("#webhook-secret").inner_text()
    assert first.startswith("whsec_")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    page.goto("/console/webhooks")
    expect(page.locator("#webhook-secret")).to_have_count(0)
    expect(page.locator("#webhook-state")).to_contain_text("A signing secret is set")
    assert first not in page.content()
    page.get_by_role("button", name="Rotate secret").click()
    second = page.locator("#webhook-secret").inner_text()
    assert second.startswith("whsec_") and second != first


def _sample(html: str, secret: str) -> dict[str, Any]:
    """The page's Python verification sample, run with ``secret``."""
    match = re.search(r'<pre id="verify-sample"><code>(.*?)</code></pre>', html, re.S)
    assert match is not None
    code = unescape(match.group(1)).replace('"whsec_..."', repr(secret))
    namespace: dict[str, Any] = {}
    exec(compile(code, "verify-sample", "exec"), namespace)
    return namespace


def test_a_delivered_callback_verifies_with_the_shown_secret(server: Server, song: str) -> None:
    user = visitor(server)
    with user.client() as client:
        old = _secret(client.post("/console/webhooks", data={"csrf_token": user.csrf}).text)
        shown = client.post("/console/webhooks", data={"csrf_token": user.csrf}).text
    secret = _secret(shown)
    receiver = Receiver([])
    try:
        body = {"audioUrl": song, "type": "separate_vocal", "callBackUrl": receiver.url}
        auth = {"Authorization": f"Bearer {user.key}"}
        created = httpx.post(server.url + GENERATE, json=body, headers=auth).json()
        task_id = created["data"]["taskId"]
        deadline = time.monotonic() + 60
        while not receiver.calls:
            assert time.monotonic() < deadline, "no callback arrived"
            time.sleep(0.2)
        headers, payload = receiver.calls[0]
    finally:
        receiver.close()
    lower = {name.lower(): value for name, value in headers.items()}
    headers = {**headers, **lower}
    good, stale = _sample(shown, secret), _sample(shown, old)
    assert good["verify_standard"](headers, payload)
    assert good["verify_kie"](headers, task_id)
    assert not stale["verify_standard"](headers, payload)
    assert not stale["verify_kie"](headers, task_id)
    assert not good["verify_standard"](headers, payload + b" ")
