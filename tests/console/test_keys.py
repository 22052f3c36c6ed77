"""API keys in the console: a person creates one, sees it once, uses it with every dialect, and
revokes it."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from yinzi.services import accounts

from .conftest import Server, make_person, signed_in


def test_a_new_key_is_shown_once_works_everywhere_and_can_be_revoked(
    server: Server, page: Page
) -> None:
    owner = make_person(server, credits=77)
    signed_in(page, owner)
    page.get_by_role("link", name="API keys").first.click()
    page.get_by_label("Name").fill("studio app")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator(".secret")
    expect(secret).to_have_text(re.compile(r"^yz_[A-Za-z0-9_-]{30,}$"))
    key = secret.inner_text().strip()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("studio app"))).to_contain_text(key[:10])

    base = server.url
    open_api = httpx.get(
        f"{base}/api/open/v1/order/list", headers={"Authorization": f"Bearer {key}"}
    )
    assert open_api.status_code == 200 and open_api.json()["data"]["total"] == 0
    kie = httpx.get(f"{base}/api/v1/chat/credit", headers={"Authorization": f"Bearer {key}"})
    assert kie.json() == {"code": 200, "msg": "success", "data": 77}
    yating = httpx.get(f"{base}/v1/textToMusic", headers={"key": key})
    assert yating.status_code == 200 and yating.json()["total"] == 0

    page.goto("/console/keys")
    expect(page.locator(".secret")).to_have_count(0)
    assert key not in page.content()
    row = page.get_by_role("row", name=re.compile("studio app"))
    expect(row).not_to_contain_text("Never")  # it was used just now

    row.get_by_role("button", name="Revoke").click()
    page.wait_for_url("**/console/keys")
    expect(page.get_by_role("row", name=re.compile("studio app"))).not_to_contain_text("Revoke")
    # The process that revoked it forgets it at once, despite its cache of checked keys.
    refused = httpx.get(f"{base}/api/v1/chat/credit", headers={"Authorization": f"Bearer {key}"})
    assert refused.json()["code"] == 401
    assert httpx.get(f"{base}/v1/textToMusic", headers={"key": key}).status_code == 401


def test_the_page_says_how_to_use_each_dialect(server: Server, page: Page) -> None:
    signed_in(page, make_person(server))
    page.goto("/console/keys")
    for heading in (
        "Open API",
        "Vocal removal (Kie-compatible)",
        "Text to music (Yating-compatible)",
    ):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    text = page.locator("main").inner_text()
    assert f"{server.url}/api/open/v1/order/list" in text
    assert f"{server.url}/api/v1/chat/credit" in text
    assert f"{server.url}/v1/textToMusic" in text and "key: YOUR_KEY" in text


def test_another_accounts_key_cannot_be_revoked(server: Server, page: Page) -> None:
    other = make_person(server)
    with server.ctx.db.read() as s:
        their_key = accounts.list_keys(s, accounts.by_id(s, other.id))[0].id
    signed_in(page, make_person(server))
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    refused = page.request.post(f"/console/keys/{their_key}/revoke", form={"csrf_token": token})
    assert refused.status == 404
    still = httpx.get(
        f"{server.url}/api/v1/chat/credit", headers={"Authorization": f"Bearer {other.key}"}
    )
    assert still.json()["code"] == 200


def test_a_key_needs_a_name(server: Server, page: Page) -> None:
    signed_in(page, make_person(server))
    page.goto("/console/keys")
    page.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text("The key needs a name.")
    expect(page.locator(".secret")).to_have_count(0)
