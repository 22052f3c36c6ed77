"""The order, credit and webhook pages in Chinese show no English of their own: every word a
page writes is translated; what stays in Latin letters is user data, codes, file names and
numbers (in ``<code>``/``<pre>``), the service's own messages (``lang="en"``) and a few names."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from console.visitors import Visitor, visitor
from sdk.conftest import Server

from conftest import FileServer

ALLOWED = {
    "API",
    "Yinzi",
    "MP3",
    "WAV",
    "FLAC",
    "MB",
    "UTC",
    "SRT",
    "WebVTT",
    "JSON",
    "Kie",
    "Python",
}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")
SKIPPED = {"code", "pre", "script", "style", "datalist", "textarea"}
VOID = {"input", "meta", "link", "br", "img", "source", "hr"}


class Words(HTMLParser):
    """The Latin words of a page's visible text, outside the skipped elements."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        values = dict(attrs)
        skip = tag in SKIPPED or values.get("lang") == "en" or "who" in (values.get("class") or "")
        self.stack.append(skip or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.words += [w for w in WORD.findall(data) if w not in ALLOWED]


def _english(user: Visitor, path: str, method: str = "GET") -> list[str]:
    headers = {"Accept-Language": "zh-CN,zh;q=0.9"}
    with user.client() as client:
        if method == "POST":
            response = client.post(path, data={"csrf_token": user.csrf}, headers=headers)
        else:
            response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    assert 'lang="zh-Hans"' in response.text
    parser = Words()
    parser.feed(response.text)
    return parser.words


def test_the_chinese_pages_have_no_untranslated_english(
    server: Server, song: str, file_server: FileServer
) -> None:
    user = visitor(server)
    with user.client() as client:
        made = [
            client.post(
                "/console/orders",
                data={"csrf_token": user.csrf, "order_type": kind, "url": url},
            ).headers["location"]
            for kind, url in (
                ("track-separation", song),
                ("extract-text", song),
                ("extract-voice", file_server.url("missing.wav")),
            )
        ]
    for location in made:
        user.wait_ended(location.rsplit("/", 1)[1])
    pages = ["/console/orders/new", "/console/orders", "/console/credits", "/console/webhooks"]
    order_numbers = {location.rsplit("/", 1)[1] for location in made}
    for path in [*pages, *made]:
        english = [w for w in _english(user, path) if not any(w in n for n in order_numbers)]
        assert english == [], path
    assert _english(user, "/console/webhooks", "POST") == []
