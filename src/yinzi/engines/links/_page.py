"""Who made a web page, read from its metadata; for pages no site-specific extractor knows.

Pure functions over HTML text (no yt-dlp, no network), so they are easy to test. The author is
taken from, in order: ``<meta name="author">``, a JSON-LD ``author`` / ``creator``,
``<meta property="article:author">`` (unless it is a URL, as Facebook's profile links are),
``og:video:director`` / ``og:author``, and ``<meta name="twitter:creator">``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser

_AUTHOR_META = ("author", "article:author", "og:video:director", "og:author", "twitter:creator")


def page_author(html: str) -> str | None:
    """The author a page names in its metadata, or None."""
    page = _PageMeta()
    page.feed(html)
    page.close()
    candidates = [page.meta.get("author")]
    candidates += [_ld_author(block) for block in page.json_ld]
    candidates += [page.meta.get(name) for name in _AUTHOR_META[1:]]
    for candidate in candidates:
        name = (candidate or "").strip()
        if name and not name.startswith(("http://", "https://")):
            return name
    return None


class _PageMeta(HTMLParser):
    """Collects ``<meta>`` contents by name or property and the JSON-LD script bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.json_ld: list[str] = []
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = (values.get("name") or values.get("property") or "").lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])
        elif tag == "script" and values.get("type", "").lower() == "application/ld+json":
            self._in_ld = True
            self.json_ld.append("")

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.json_ld[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_ld = False


def _ld_author(block: str) -> str | None:
    try:
        data = json.loads(block)
    except ValueError:
        return None
    for node in _ld_nodes(data):
        for key in ("author", "creator"):
            name = _person_name(node.get(key))
            if name:
                return name
    return None


def _ld_nodes(data: object) -> Iterator[dict[str, object]]:
    """Every object in a JSON-LD document: the top level, lists and ``@graph`` members."""
    if isinstance(data, list):
        for item in data:
            yield from _ld_nodes(item)
    elif isinstance(data, dict):
        yield data
        yield from _ld_nodes(data.get("@graph"))


def _person_name(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return next((name for name in map(_person_name, value) if name), None)
    if isinstance(value, dict):
        name = value.get("name") or value.get("alternateName")
        return name if isinstance(name, str) else None
    return None
