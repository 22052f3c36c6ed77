"""What the console's forms share: where to go after one, who sent it, and its messages.

- ``local_next`` only ever returns a path of this console, so a ``next`` parameter can never
  send a visitor to another site (``//host``, ``/\\host``, ``https://...`` are refused).
- ``Alert``: a message for the page, translated when the catalogue knows it; one it does not
  know (a service's own words) keeps ``lang="en"`` so a Chinese page says which text is English.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from yinzi.console import i18n

HOME = "/console/"
MAX_NEXT_CHARS = 2000


def local_next(value: str | None) -> str:
    """``value`` when it is a path under ``/console/``, else the overview."""
    if not value or len(value) > MAX_NEXT_CHARS:
        return HOME
    if not value.startswith(HOME) or value.startswith("//"):
        return HOME
    if any(c in value for c in "\\\r\n\t") or any(ord(c) < 32 for c in value):
        return HOME
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Alert:
    text: str
    lang: str | None
    """``en`` when the text is not in the page's language (a message the catalogue lacks)."""


def alert(request: Request, message: str) -> Alert:
    language = i18n.negotiate(request)
    text = i18n.gettext(language, message)
    untranslated = language != i18n.DEFAULT and text == message
    return Alert(text, i18n.DEFAULT if untranslated else None)
