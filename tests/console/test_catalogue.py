"""The Chinese catalogue is complete and current: every message the console's templates and
Python files mark for translation has a Simplified Chinese translation in ``messages.po``, and
``messages.po`` has nothing the console no longer says.

Messages are extracted with Babel exactly as ``make messages`` does (the mapping in
``locale/babel.cfg``; Jinja's extractor for templates, Python's for ``.py`` files).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

import yinzi.console
from yinzi.console.messages import SERVICE_MESSAGES
from yinzi.context import Context
from yinzi.errors import SignInLocked, YinziError
from yinzi.services import accounts, passwords

from helpers import User

CONSOLE = Path(yinzi.console.__file__).parent
LOCALE = CONSOLE / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@dataclass(frozen=True)
class Message:
    msgid: str
    plural: str | None
    context: str | None
    where: str

    @property
    def key(self) -> tuple[str, str | None]:
        return self.msgid, self.context


@cache
def extracted() -> tuple[Message, ...]:
    with (LOCALE / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = []
    for filename, line, text, _comments, context in extract_from_dir(
        CONSOLE, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        msgid, plural = (text[0], text[1]) if isinstance(text, tuple) else (text, None)
        found.append(Message(msgid, plural, context, f"{filename}:{line}"))
    return tuple(found)


def catalogue() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="zh_Hans")


def entries(catalog: Catalog) -> Iterator[tuple[str, str | None, list[str]]]:
    """(msgid, context, translations) of every entry but the header."""
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = list(message.string) if isinstance(message.string, tuple) else [message.string]
        yield msgid, message.context, strings


def test_the_console_marks_its_messages_for_translation() -> None:
    ids = {message.msgid for message in extracted()}
    assert {"User Center", "Page not found", "Create account"} <= ids


def test_every_message_has_a_chinese_translation() -> None:
    catalog = catalogue()
    missing = []
    for message in extracted():
        entry = catalog.get(message.msgid, context=message.context)
        strings = (
            [] if entry is None else list(entry.string) if entry.pluralizable else [entry.string]
        )
        if not strings or not all(s.strip() for s in strings):
            missing.append(f"{message.where}: {message.msgid!r} (context {message.context!r})")
    assert not missing, "untranslated in messages.po:\n" + "\n".join(sorted(set(missing)))


def test_the_catalogue_has_no_stale_entry() -> None:
    used = {message.key for message in extracted()}
    stale = [
        f"{msgid!r} (context {context!r})"
        for msgid, context, _ in entries(catalogue())
        if (msgid, context) not in used
    ]
    assert not stale, "in messages.po but said nowhere (run make messages):\n" + "\n".join(stale)


def test_no_message_is_in_the_catalogue_twice() -> None:
    text = PO.read_text(encoding="utf-8")
    raw = len(re.findall(r"^msgid ", text, flags=re.MULTILINE)) - 1  # less the header
    assert raw == len(list(entries(catalogue()))), "messages.po has a duplicate entry"


def test_translations_keep_every_placeholder() -> None:
    wrong = [
        f"{msgid!r} → {string!r}"
        for msgid, _, strings in entries(catalogue())
        for string in strings
        if string
        and set(PLACEHOLDER.findall(string)) != set(PLACEHOLDER.findall(msgid))
        and not (len(strings) == 1 and set(PLACEHOLDER.findall(string)) <= {"num"})
    ]
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def _raised(call: Callable[[], object]) -> str:
    try:
        call()
    except YinziError as exc:
        return exc.message
    raise AssertionError("no error was raised")


def test_the_service_messages_the_console_translates_are_the_ones_services_say(
    ctx: Context, user: User
) -> None:
    """Each entry of SERVICE_MESSAGES is what a service really raises, so a reworded service
    message cannot silently lose its translation (and a dropped one is noticed here)."""
    from yinzi.console import routes_auth

    with ctx.db.write() as session:
        account = accounts.by_id(session, user.id)
        said = {
            SignInLocked(retry_after=60).message,
            _raised(lambda: passwords.check_strength("short")),
            _raised(lambda: passwords.check_strength("x" * (passwords.MAX_CHARS + 1))),
            _raised(lambda: routes_auth._same("one", "two")),
            _raised(lambda: passwords.link_account(session, "never-issued")),
            _raised(lambda: accounts.create_key(session, account, " ")),
            _raised(lambda: accounts.create_key(session, account, "k" * 101)),
        }
    said.add(_raised(lambda: passwords.sign_in(ctx.db, "x@example.com", "p", "1", ctx.settings)))
    said.add(_raised(lambda: passwords.change_password(ctx.db, user.id, "wrong", "whatever1")))
    assert said == set(SERVICE_MESSAGES)
