"""Languages of the console: English (the source strings) and Simplified Chinese.

Every string a page shows goes through one Babel catalogue, ``locale/zh_Hans/LC_MESSAGES/
messages.po``, compiled in memory when first needed (no build step, nothing generated on disk).
The language comes from the ``yinzi_lang`` cookie (set by the switch in the page header), else
from ``Accept-Language``, else English.
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LANGUAGES = {"en": "English", "zh": "简体中文"}
"""Language code (as in the cookie and ``<html lang>``) → its name in itself."""
DEFAULT = "en"
COOKIE = "yinzi_lang"
_CATALOGUES = {"zh": "zh_Hans"}


def negotiate(request: Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return from_accept_language(request.headers.get("accept-language", ""))


def from_accept_language(header: str) -> str:
    """The best of our languages for an ``Accept-Language`` header (q-values honoured)."""
    best, best_q = DEFAULT, 0.0
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


@cache
def translations(language: str) -> NullTranslations:
    folder = _CATALOGUES.get(language)
    if folder is None:
        return NullTranslations()
    source = resources.files("yinzi.console") / "locale" / folder / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as f:
        catalog = read_po(f, locale=folder)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def N_(message: str) -> str:
    """Marks a string for the catalogue without translating it (it is translated where shown)."""
    return message
