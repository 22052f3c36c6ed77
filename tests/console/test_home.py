"""The overview: a person sees their credits, and their orders change on the page as they run."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Server, ServerFactory, make_person, signed_in


def test_the_overview_shows_the_balance_and_first_steps(server: Server, page: Page) -> None:
    signed_in(page, make_person(server, credits=321))
    expect(page.get_by_test_id("available")).to_have_text("321")
    expect(page.get_by_test_id("held")).to_have_text("0")
    expect(page.get_by_role("link", name="Submit your first order")).to_be_visible()
    expect(page.get_by_role("link", name="Create an API key for your programs")).to_have_count(0)


@pytest.fixture
def idle_server(yinzi_server: ServerFactory) -> Server:
    """A server whose orders stay pending: no worker runs them."""
    return yinzi_server(worker=False)


@pytest.fixture
def idle_page(browser: Browser, idle_server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=idle_server.url, locale="en-US")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_an_api_order_appears_and_its_status_changes_without_a_reload(
    idle_server: Server, idle_page: Page, song: str
) -> None:
    server, page = idle_server, idle_page
    person = make_person(server, credits=500)
    auth = {"Authorization": f"Bearer {person.key}"}
    body = {"orderType": "track-separation", "stuff": {"pathKey": song}}
    created = httpx.post(f"{server.url}/api/open/v1/order/create", json=body, headers=auth)
    order_no = created.json()["data"]["orderNo"]
    page.goto(f"{server.url}/console/sign-in")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/console/")
    row = page.locator(f'[data-live-order="{order_no}"]')
    expect(row.locator('[data-field="status"]')).to_have_text("Waiting")
    expect(row.locator('[data-field="stage"]')).to_have_text("Queued")
    expect(row).to_contain_text("Vocals and accompaniment")
    assert int(page.get_by_test_id("held").inner_text()) > 0
    page.evaluate("window.stillTheSamePage = true")
    cancel = httpx.post(
        f"{server.url}/api/open/v1/order/cancel", json={"orderNo": order_no}, headers=auth
    )
    assert cancel.status_code == 200, cancel.text
    expect(row.locator('[data-field="status"]')).to_have_text("Failed", timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_feed_answers_only_for_the_viewers_orders(
    idle_server: Server, idle_page: Page, song: str
) -> None:
    server, page = idle_server, idle_page
    owner, other = make_person(server), make_person(server)
    body = {"orderType": "extract-voice", "stuff": {"pathKey": song}}
    auth = {"Authorization": f"Bearer {owner.key}"}
    order_no = httpx.post(f"{server.url}/api/open/v1/order/create", json=body, headers=auth).json()[
        "data"
    ]["orderNo"]
    page.goto(f"{server.url}/console/language?to=zh&next=/console/sign-in")
    page.get_by_label("邮箱").fill(owner.email)
    page.get_by_label("密码").fill(owner.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{server.url}/console/")
    mine = page.request.get(f"{server.url}/console/feed/orders?no={order_no}&no=unknown").json()
    assert mine == {
        "orders": [
            {
                "orderNo": order_no,
                "status": "pending",
                "statusLabel": "等待中",
                "progress": 0,
                "stage": "queued",
                "stageLabel": "排队中",
            }
        ]
    }
    page.context.clear_cookies()
    page.goto(f"{server.url}/console/sign-in")
    page.get_by_label("Email").fill(other.email)
    page.get_by_label("Password").fill(other.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/console/")
    theirs = page.request.get(f"{server.url}/console/feed/orders?no={order_no}").json()
    assert theirs == {"orders": []}
    many = "&".join(f"no=n{i}" for i in range(51))
    assert page.request.get(f"{server.url}/console/feed/orders?{many}").status == 400
