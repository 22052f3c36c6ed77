"""The Chinese console shows no untranslated English.

An administrator whose browser asks for Chinese walks every console page reachable from the
navigation (same-origin ``/console/`` links, followed page after page), plus the pages of a
finished and of a failed order and the 404 page. On each page, every text a person can read or
hear — the text, ``<title>``, ``placeholder``, ``aria-label``, ``title``, ``alt`` and button
values — must hold no ASCII word of three letters or more, except inside ``lang="en"``,
``<code>``, ``<pre>`` or ``translate="no"`` (raw service messages, identifiers, commands), and
except emails, URLs, numbers, order numbers and the names in ``ALLOWED``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from console.visitors import signed_in_as, visitor
from playwright.sync_api import Page
from sdk.conftest import Server

from yinzi.sdk import Client, OrderFailed

ALLOWED = frozenset(
    {
        "Yinzi", "API", "APIs", "MP3", "WAV", "FLAC", "URL", "URLs", "Kie", "Open", "Yating",
        "UTC", "SRT", "VTT", "WebVTT", "JSON", "SDK", "CLI", "HTTP", "HTTPS", "Bearer", "Webhook",
        "English", "Python", "Spleeter", "Demucs", "Whisper", "MusicGen", "PocketSphinx",
    }
)  # fmt: skip
SKIPPED_PATHS = ("/console/sign-out", "/console/language", "/console/static/", "/console/files/")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
NOT_WORDS = (
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # emails
    re.compile(r"\bhttps?://\S*"),  # URLs (and the "https://" a URL field suggests)
    re.compile(r"(?<![\w/])/console/\S*"),  # local addresses
    re.compile(r"\b[A-Za-z0-9]{18}\b"),  # order numbers
    re.compile(r"\b\d[\d.,:%-]*\b"),  # numbers, dates, times
)
READABLE = """() => {
  const skip = 'script, style, template, code, pre, [lang="en"], [translate="no"]';
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(skip)) out.push(node.textContent);
  }
  for (const el of document.body.querySelectorAll(
      '[placeholder], [aria-label], [title], [alt], input[type=submit], input[type=button]')) {
    if (el.closest(skip)) continue;
    for (const name of ['placeholder', 'aria-label', 'title', 'alt']) {
      if (el.hasAttribute(name)) out.push(el.getAttribute(name));
    }
    if (el.matches('input[type=submit], input[type=button]')) out.push(el.value);
  }
  return out;
}"""
LINKS = """() => Array.from(document.querySelectorAll('a[href]'))
  .filter(a => !a.hasAttribute('download')).map(a => a.getAttribute('href'))"""


def english_words(text: str) -> list[str]:
    for pattern in NOT_WORDS:
        text = pattern.sub(" ", text)
    return [word for word in ENGLISH_WORD.findall(text) if word not in ALLOWED]


def untranslated(page: Page) -> list[str]:
    """The readable texts of the page that hold an English word."""
    texts: list[str] = page.evaluate(READABLE)
    return sorted({" ".join(t.split()) for t in texts if english_words(t)})


def console_links(page: Page, base: str) -> set[str]:
    found = set()
    for href in page.evaluate(LINKS):
        url = urlsplit(urljoin(page.url, href))
        if f"{url.scheme}://{url.netloc}" != base or not url.path.startswith("/console/"):
            continue
        if url.path.startswith(SKIPPED_PATHS):
            continue
        found.add(url.path + (f"?{url.query}" if url.query else ""))
    return found


def ended_orders(server: Server, key: str, song: str) -> list[str]:
    """Finished orders with audio and with text results, and a failed one (Open API)."""
    with Client(server.url, key, timeout=30.0) as client:
        finished = [
            client.create("text-to-music", text="calm piano", length=1),
            client.create("track-separation", song),
            client.create("extract-text", song),
        ]
        failed = client.create("track-separation", "http://127.0.0.1:9/missing.mp3")
        for order in finished:
            client.wait(order.order_no, timeout=120, poll=0.2)
        try:
            client.wait(failed.order_no, timeout=120, poll=0.2)
        except OrderFailed:
            pass
    return [order.order_no for order in (*finished, failed)]


def test_every_console_page_is_in_chinese(
    server: Server, new_page: Callable[..., Page], song: str
) -> None:
    boss = visitor(server.ctx, admin=True, credits=1000)
    with server.ctx.db.write() as session:
        from yinzi.db.models import Account
        from yinzi.services import accounts

        account = session.get(Account, boss.id)
        assert account is not None
        key = accounts.create_key(session, account, "crawler").key
    numbers = ended_orders(server, key, song)
    page = signed_in_as(new_page(locale="zh-CN"), server, boss)
    queue = ["/console/", "/console/admin/", "/console/no-such-page"]
    queue += [f"/console/orders/{number}" for number in numbers]
    seen: set[str] = set()
    problems: dict[str, list[str]] = {}
    started = time.monotonic()
    while queue and time.monotonic() - started < 240:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page.goto(path)
        assert page.evaluate("document.documentElement.lang") == "zh-Hans", path
        if found := untranslated(page):
            problems[path] = found
        queue += sorted(console_links(page, server.url) - seen)
    assert not queue, f"the crawl did not finish in 240 s; left: {queue[:5]}"
    assert {
        "/console/orders/new",
        "/console/orders",
        "/console/credits",
        "/console/keys",
        "/console/webhooks",
        "/console/password",
        "/console/admin/accounts",
        "/console/admin/orders",
        "/console/admin/engines",
        "/console/admin/workers",
        f"/console/admin/accounts/{boss.id}",
    } <= seen
    # a page that answers a form: the new webhook secret
    page.goto("/console/webhooks")
    page.locator("main form[action='/console/webhooks'] button[type=submit]").click()
    page.wait_for_load_state()
    if found := untranslated(page):
        problems["/console/webhooks (new secret)"] = found
    # what a visitor sees before signing in: the form, a refused sign-in, a dead link
    visitor_page = new_page(locale="zh-CN")
    visitor_page.goto("/console/set-password/not-a-token")
    if found := untranslated(visitor_page):
        problems["/console/set-password/not-a-token"] = found
    visitor_page.goto("/console/sign-in")
    visitor_page.get_by_label("邮箱").fill("nobody@example.com")
    visitor_page.get_by_label("密码").fill("wrong password")
    visitor_page.locator("form button[type=submit]").last.click()
    visitor_page.wait_for_load_state()
    if found := untranslated(visitor_page):
        problems["/console/sign-in (refused)"] = found
    report = "\n".join(
        f"{path}:\n" + "\n".join(f"    {text!r}" for text in texts)
        for path, texts in sorted(problems.items())
    )
    assert not problems, f"untranslated English on {len(problems)} pages:\n{report}"


def test_the_check_finds_english_and_spares_what_may_stay() -> None:
    assert english_words("订单 Orders") == ["Orders"]
    assert english_words("Yinzi · 用户中心 API 密钥 2026-12-05 17:03 UTC") == []
    assert english_words("ann@example.com https://a.example/x?y=z /console/admin/ 42%") == []
    assert english_words("订单 aB3dE5fG7hJ9kL1mN2 已完成") == []
    assert english_words("第 2 页 of 3") == []  # two letters are not a word
    assert english_words("Page 2") == ["Page"]
