"""Server-rendered pages: Jinja2 templates with autoescaping and the i18n extension.

One environment per language, each with that language's translations installed, so a template
calls ``_()`` / ``gettext()`` / ``ngettext()`` and ``{% trans %}`` as usual. Every page receives
``request``, ``lang``, ``languages``, ``viewer`` (the signed-in session, or None), ``csrf_token``
and ``nav`` (the current section, for the header); the label tables of
:mod:`yinzi.console.labels` (``STATUS_LABELS``...) are globals of every template.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from yinzi.console import i18n, labels


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("yinzi.console", "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = when
    env.globals.update(labels.FOR_TEMPLATES)
    return env


def when(value: datetime | None) -> str:
    """A stored (naive UTC) time as shown in the console: ``2026-12-05 17:03 UTC``."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    nav: str = "",
) -> HTMLResponse:
    language = i18n.negotiate(request)
    viewer = getattr(request.state, "viewer", None)
    values: dict[str, Any] = {
        "request": request,
        "lang": language,
        "languages": i18n.LANGUAGES,
        "viewer": viewer,
        "csrf_token": viewer.csrf_token if viewer else anonymous_csrf(request),
        "nav": nav,
    }
    values.update(context or {})
    html = environment(language).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = "zh-Hans" if language == "zh" else language
    return response


def anonymous_csrf(request: Request) -> str:
    """The double-submit token of a visitor without a session (set by the console middleware)."""
    token: str = getattr(request.state, "anonymous_csrf", "")
    return token
