"""The core console pages over plain HTTP: security headers, no inline code, redirects, 404s,
and a label for every order status, stage and type."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from yinzi.console import i18n, labels
from yinzi.context import Context
from yinzi.services import accounts, passwords
from yinzi.services.orders import ORDER_KINDS, OrderStatus, Stage

from helpers import make_settings

PASSWORD = "correct horse battery staple"
PUBLIC_PAGES = ["/console/sign-in", "/console/sign-in?next=/console/keys"]
PRIVATE_PAGES = ["/console/", "/console/keys", "/console/password"]
INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"javascript:", re.I),
]


def _sign_in(client: TestClient, ctx: Context) -> None:
    with ctx.db.write() as s:
        account, _ = accounts.create_account(s, "http@example.com", credits=5)
        passwords.set_password(s, account.id, PASSWORD)
    client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={
            "email": "http@example.com",
            "password": PASSWORD,
            "csrf_token": client.cookies["yinzi_csrf"],
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"


def _check_page(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    for pattern in INLINE:
        assert not pattern.search(response.text), (path, pattern.pattern)
    return response.text


@pytest.mark.parametrize("language", ["en-US", "zh-CN"])
def test_every_core_page_is_served_with_strict_headers_and_no_inline_code(
    client: TestClient, ctx: Context, language: str
) -> None:
    client.headers["Accept-Language"] = language
    for path in PUBLIC_PAGES:
        _check_page(client, path)
    _sign_in(client, ctx)
    for path in PRIVATE_PAGES:
        _check_page(client, path)
    created = client.post(
        "/console/keys",
        data={"name": "ci", "csrf_token": _csrf(client)},
    )
    assert created.status_code == 200
    assert not any(p.search(created.text) for p in INLINE)


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/console/keys").text)
    assert match
    return match.group(1)


def test_private_pages_send_a_visitor_to_sign_in(client: TestClient) -> None:
    for path in PRIVATE_PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/sign-in?next=")


def test_the_root_redirects_to_the_console(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["location"] == "/console/"


def test_an_unknown_page_is_a_404_page_in_the_visitors_language(client: TestClient) -> None:
    response = client.get("/console/no-such-page", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 404
    assert "页面不存在" in response.text and '<html lang="zh-Hans">' in response.text
    assert "Page not found" not in response.text


def test_the_language_switch_remembers_the_choice_and_stays_on_the_site(
    client: TestClient,
) -> None:
    switched = client.get(
        "/console/language?to=zh&next=https://evil.example/", follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/console/"
    cookie = switched.headers["set-cookie"]
    assert "yinzi_lang=zh" in cookie and "Max-Age=31536000" in cookie
    assert "登录" in client.get("/console/sign-in").text
    assert client.get("/console/language?to=xx").status_code == 400


def test_sign_up_is_not_found_when_off(client: TestClient) -> None:
    assert client.get("/console/sign-up").status_code == 404


def test_every_status_stage_and_order_type_has_a_chinese_label() -> None:
    for value, label in [
        *((s.value, labels.status_label("zh", s)) for s in OrderStatus),
        *((s.value, labels.stage_label("zh", s)) for s in Stage),
        *((t, labels.order_type_label("zh", t)) for t in ORDER_KINDS),
    ]:
        assert re.search(r"[\u4e00-\u9fff]", label), value
    assert labels.status_label("en", "finish") == "Finished"
    assert labels.stage_label("en", "who-knows") == "who-knows"
    assert i18n.gettext("zh", "Wrong email or password.") == "邮箱或密码错误。"


class _VisibleText(HTMLParser):
    """Text a reader sees, leaving out code samples, scripts and elements marked English."""

    SKIP = frozenset({"code", "pre", "script", "style", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "meta", "link", "br", "img"):
            return
        skipped = tag in self.SKIP or dict(attrs).get("lang") == "en"
        self.stack.append(skipped or bool(self.stack and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and tag not in ("input", "meta", "link", "br", "img"):
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]) and data.strip():
            self.texts.append(data.strip())


ALLOWED_LATIN = re.compile(r"Yinzi|API|Kie|Yating|UTC|[\w.+-]+@[\w.-]+|yz_\w+|\d+|^default$")
"""Names, emails, keys and numbers; ``default`` is the name of an account's first key (data)."""


def test_the_chinese_core_pages_show_no_untranslated_english(
    client: TestClient, ctx: Context
) -> None:
    client.headers["Accept-Language"] = "zh-CN"
    _sign_in(client, ctx)
    for path in [*PRIVATE_PAGES, "/console/no-such-page"]:
        parser = _VisibleText()
        parser.feed(client.get(path).text)
        for text in parser.texts:
            leftover = ALLOWED_LATIN.sub("", text)
            assert not re.search(r"[A-Za-z]{2,}", leftover), (path, text)


def test_the_session_cookie_is_secure_behind_https_or_when_asked(tmp_path: Path) -> None:
    from yinzi.console.routes_auth import secure_cookies

    assert secure_cookies(make_settings(tmp_path, public_url="https://audio.example"))
    assert not secure_cookies(make_settings(tmp_path, public_url="http://127.0.0.1:8000"))
    forced = make_settings(tmp_path, public_url="http://x", console={"secure_cookies": True})
    assert secure_cookies(forced)
